  // Shared by every face (included in a nonce'd script): a form with `data-passkey`
  // (the challenge's options) first asks the passkey to sign that challenge, then posts
  // the assertion in its `webauthn` field with the PIN.
  document.querySelectorAll("form[data-passkey]").forEach(function (payForm) {
  var options = payForm.getAttribute("data-passkey");
  if (options && navigator.credentials && window.PublicKeyCredential) {
    var bytes = function (s) {
      var b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
      return Uint8Array.from(b, function (c) { return c.charCodeAt(0); });
    };
    var text = function (buf) {
      return btoa(String.fromCharCode.apply(null, new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    };
    payForm.addEventListener("submit", function (ev) {
      var field = payForm.querySelector("input[name=webauthn]");
      if (field.value) { return; }
      ev.preventDefault();
      var o = JSON.parse(options);
      o.challenge = bytes(o.challenge);
      o.allowCredentials = (o.allowCredentials || []).map(function (c) {
        return { type: c.type, id: bytes(c.id), transports: c.transports };
      });
      navigator.credentials.get({ publicKey: o }).then(function (cred) {
        var r = cred.response;
        field.value = JSON.stringify({
          id: cred.id, rawId: text(cred.rawId), type: cred.type, extensions: {},
          response: {
            authenticatorData: text(r.authenticatorData), clientDataJSON: text(r.clientDataJSON),
            signature: text(r.signature), userHandle: r.userHandle ? text(r.userHandle) : null
          }
        });
        payForm.submit();
      }, function () {
        field.value = "";
        payForm.submit();
      });
    });
  }
  });
