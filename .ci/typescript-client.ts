// Types generated from openapi.yaml by openapi-typescript, used as a TypeScript client
// would (checked by `tsc --strict` in .ci/clients): request bodies with only their
// required fields must type-check, so the server's defaults (currency EUR, language en)
// never become fields a client is forced to send.
import type { components, paths } from "./api";

type Create = NonNullable<paths["/v1/money-requests"]["post"]["requestBody"]>;
type SendLink = NonNullable<paths["/v1/money-requests/{id}/send"]["post"]["requestBody"]>;
type HostedPage = NonNullable<paths["/v1/hosted-page"]["put"]["requestBody"]>;

const link: components["schemas"]["CreateMoneyRequest"] = { amount: "12.50" };
const addressed: Create["content"]["application/json"] = {
  amount: "3.00",
  payer: "anna",
  reference: "order-77",
};
const send: SendLink["content"]["application/json"] = {
  channel: "sms",
  to: "+4915112345678",
};
const hostedPage: HostedPage["content"]["application/json"] = {
  return_origins: ["https://shop.example"],
};

// A response's required fields are there without a check.
function total(r: components["schemas"]["MoneyRequest"]): string {
  return `${r.id}: ${r.amount} ${r.status}`;
}

export const bodies = [link, addressed, send, hostedPage, total];
