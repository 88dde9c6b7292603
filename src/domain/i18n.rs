//! The hosted page's languages: English, German, French and Hebrew (right to left),
//! chosen by `?lang=`, then `Accept-Language`, falling back to English; amounts and
//! dates formatted for the language.

use crate::domain::money::Money;
use chrono::{DateTime, Datelike, Timelike, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Fr,
    He,
}

pub const ALL: [Lang; 4] = [Lang::En, Lang::De, Lang::Fr, Lang::He];

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
            Self::He => "he",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "de" => Some(Self::De),
            "fr" => Some(Self::Fr),
            "he" | "iw" => Some(Self::He),
            _ => None,
        }
    }

    /// `?lang=` if it names a language we have, else the best of `Accept-Language`
    /// (by q-value, then order), else English.
    pub fn pick(query: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(l) = query.and_then(Self::from_code) {
            return l;
        }
        let mut best: Option<(f32, usize, Self)> = None;
        for (i, part) in accept_language.unwrap_or("").split(',').enumerate() {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Self::from_code(tag).filter(|_| q > 0.0) {
                if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                    best = Some((q, i, lang));
                }
            }
        }
        best.map_or(Self::En, |(_, _, l)| l)
    }

    pub fn dir(self) -> &'static str {
        match self {
            Self::He => "rtl",
            _ => "ltr",
        }
    }

    /// The language's own name, for the switcher.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::De => "Deutsch",
            Self::Fr => "Français",
            Self::He => "עברית",
        }
    }

    pub fn t(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::De => &DE,
            Self::Fr => &FR,
            Self::He => &HE,
        }
    }

    /// An amount with its currency as the language writes it: `€1,234.50`,
    /// `1.234,50 €`, `1 234,50 €`, `1,234.50 €`.
    pub fn money(self, amount: &str, currency: &str) -> String {
        let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
        let (group, decimal) = match self {
            Self::En | Self::He => (",", "."),
            Self::De => (".", ","),
            Self::Fr => ("\u{202f}", ","),
        };
        let digits: Vec<char> = int.chars().collect();
        let mut grouped = String::new();
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) && d.is_ascii_digit() {
                grouped.push_str(group);
            }
            grouped.push(*d);
        }
        let number = if frac.is_empty() {
            grouped
        } else {
            format!("{grouped}{decimal}{frac}")
        };
        let symbol = match currency {
            "EUR" => "€",
            "USD" => "$",
            "GBP" => "£",
            other => other,
        };
        match self {
            Self::En => format!("{symbol}{number}"),
            _ => format!("{number}\u{a0}{symbol}"),
        }
    }

    pub fn eur(self, m: Money) -> String {
        self.money(&m.to_string(), "EUR")
    }

    /// A point in time in `tz`, as the language writes it.
    pub fn datetime(self, t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
        let l = t.with_timezone(&tz);
        let month = self.t().months[l.month0() as usize];
        let (d, y, h, m) = (l.day(), l.year(), l.hour(), l.minute());
        let zone = l.format("%Z");
        match self {
            Self::En => format!("{d} {month} {y}, {h:02}:{m:02} {zone}"),
            Self::De => format!("{d}. {month} {y}, {h:02}:{m:02} {zone}"),
            Self::Fr => format!("{d} {month} {y} à {h:02}:{m:02} {zone}"),
            Self::He => format!("{d} ב{month} {y}, {h:02}:{m:02} {zone}"),
        }
    }
}

/// Every text of the hosted page and of the link messages, in one language.
pub struct Texts {
    pub months: [&'static str; 12],
    pub page_title: &'static str,
    pub requested_by: &'static str,
    pub amount: &'static str,
    pub original_amount: &'static str,
    pub description: &'static str,
    pub reference: &'static str,
    pub pay_before: &'static str,
    pub time_left: &'static str,
    pub status: &'static str,
    pub st_pending: &'static str,
    pub st_approved: &'static str,
    pub st_declined: &'static str,
    pub st_expired: &'static str,
    pub st_cancelled: &'static str,
    pub res_approved: &'static str,
    pub res_declined: &'static str,
    pub res_expired: &'static str,
    pub res_cancelled: &'static str,
    pub back_to_shop: &'static str,
    pub returning: &'static str,
    pub with_app: &'static str,
    pub scan_qr: &'static str,
    pub open_in_app: &'static str,
    pub send_to_app: &'static str,
    pub send_to_app_help: &'static str,
    pub your_username: &'static str,
    pub send_button: &'static str,
    pub waiting_for: &'static str,
    pub pushed: &'static str,
    pub addressed_to: &'static str,
    pub pay_here: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub log_in: &'static str,
    pub logged_in_as: &'static str,
    pub your_balance: &'static str,
    pub pin_label: &'static str,
    pub pay_button: &'static str,
    pub decline_button: &'static str,
    pub log_out: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub error_title: &'static str,
    pub err_csrf: &'static str,
    pub err_login: &'static str,
    pub err_pin: &'static str,
    pub err_pin_blocked: &'static str,
    pub err_unknown_user: &'static str,
    pub err_funds: &'static str,
    pub err_limit: &'static str,
    pub err_other: &'static str,
    pub err_session: &'static str,
    pub err_too_many: &'static str,
    pub err_addressed: &'static str,
    pub err_pin_format: &'static str,
    pub err_pin_not_set: &'static str,
    pub err_own_request: &'static str,
    pub passkey_note: &'static str,
    pub err_passkey: &'static str,
    pub err_device_required: &'static str,
    pub language: &'static str,
    pub mail_subject: &'static str,
    pub mail_body: &'static str,
    pub mail_valid_until: &'static str,
}

pub static EN: Texts = Texts {
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    page_title: "Pay {merchant}",
    requested_by: "Payment request from",
    amount: "Amount",
    original_amount: "Original amount",
    description: "For",
    reference: "Reference",
    pay_before: "Pay before",
    time_left: "Time left",
    status: "Status",
    st_pending: "Waiting for payment",
    st_approved: "Paid",
    st_declined: "Declined",
    st_expired: "Expired",
    st_cancelled: "Cancelled",
    res_approved: "Paid. Thank you!",
    res_declined: "The payment was declined.",
    res_expired: "This payment request has expired.",
    res_cancelled: "The merchant cancelled this payment request.",
    back_to_shop: "Back to {merchant}",
    returning: "Taking you back to the shop…",
    with_app: "Pay with the PinPay app",
    scan_qr: "Scan the code with your phone's camera or the PinPay app.",
    open_in_app: "Open in the PinPay app",
    send_to_app: "Send it to my app",
    send_to_app_help: "We send the request to your wallet; approve it there with your PIN.",
    your_username: "Your PinPay username",
    send_button: "Send to my app",
    waiting_for:
        "Sent to the app of {user}. Approve it there with your PIN; this page updates by itself.",
    pushed: "Sent. If a PinPay wallet has this username, the request is now in its app: approve it there with your PIN. This page updates by itself, and you can still pay here.",
    addressed_to: "This request is addressed to {user}.",
    pay_here: "Pay here",
    username: "Username",
    password: "Password",
    log_in: "Log in",
    logged_in_as: "Logged in as {user}",
    your_balance: "Your balance",
    pin_label: "Your 6-digit PIN",
    pay_button: "Pay {amount}",
    decline_button: "Decline",
    log_out: "Log out",
    not_found_title: "Payment request not found",
    not_found_text: "The link may be mistyped, or the request no longer exists.",
    error_title: "Something went wrong",
    err_csrf: "This form has expired or was sent from another site. Reload the page and try again.",
    err_login: "The username or password is not correct.",
    err_pin: "The PIN is not correct. Attempts left: {n}.",
    err_pin_blocked: "Too many wrong PINs. Your PIN is blocked for now; nothing was paid.",
    err_unknown_user: "No PinPay wallet has this username.",
    err_funds: "Your balance is too low for this payment.",
    err_limit: "This payment is above a limit of your account.",
    err_other: "The payment could not be completed.",
    err_session: "Your session has ended. Please log in again.",
    err_too_many: "Too many attempts. Please wait a moment and try again.",
    err_addressed: "This request is addressed to another wallet.",
    err_pin_format: "A PIN is exactly 6 digits.",
    err_pin_not_set:
        "Your wallet has no PIN yet. Set one in the PinPay app, then pay here; nothing was paid.",
    err_own_request: "This is your own payment request; it is paid from another wallet.",
    passkey_note: "With your passkey: it signs {amount} to {merchant}.",
    err_passkey: "Your passkey did not confirm this payment. Try again; nothing was paid.",
    err_device_required: "This payment needs a passkey as well as your PIN. Add one in the PinPay app, then pay here; nothing was paid.",
    language: "Language",
    mail_subject: "{merchant} asks you to pay {amount}",
    mail_body: "{merchant} asks you to pay {amount}.",
    mail_valid_until: "The link is valid until {deadline}.",
};

pub static DE: Texts = Texts {
    months: ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"],
    page_title: "{merchant} bezahlen",
    requested_by: "Zahlungsanforderung von",
    amount: "Betrag",
    original_amount: "Ursprünglicher Betrag",
    description: "Für",
    reference: "Referenz",
    pay_before: "Zahlbar bis",
    time_left: "Verbleibende Zeit",
    status: "Status",
    st_pending: "Wartet auf Zahlung",
    st_approved: "Bezahlt",
    st_declined: "Abgelehnt",
    st_expired: "Abgelaufen",
    st_cancelled: "Storniert",
    res_approved: "Bezahlt. Vielen Dank!",
    res_declined: "Die Zahlung wurde abgelehnt.",
    res_expired: "Diese Zahlungsanforderung ist abgelaufen.",
    res_cancelled: "Der Händler hat diese Zahlungsanforderung storniert.",
    back_to_shop: "Zurück zu {merchant}",
    returning: "Sie werden zum Shop zurückgeleitet …",
    with_app: "Mit der PinPay-App bezahlen",
    scan_qr: "Scannen Sie den Code mit der Kamera Ihres Telefons oder der PinPay-App.",
    open_in_app: "In der PinPay-App öffnen",
    send_to_app: "An meine App senden",
    send_to_app_help: "Wir senden die Anforderung an Ihr Wallet; bestätigen Sie sie dort mit Ihrer PIN.",
    your_username: "Ihr PinPay-Benutzername",
    send_button: "An meine App senden",
    waiting_for: "An die App von {user} gesendet. Bestätigen Sie dort mit Ihrer PIN; diese Seite aktualisiert sich selbst.",
    pushed: "Gesendet. Wenn ein PinPay-Wallet diesen Benutzernamen hat, liegt die Anforderung jetzt in seiner App: Bestätigen Sie sie dort mit Ihrer PIN. Diese Seite aktualisiert sich selbst, und Sie können weiterhin hier bezahlen.",
    addressed_to: "Diese Anforderung ist an {user} gerichtet.",
    pay_here: "Hier bezahlen",
    username: "Benutzername",
    password: "Passwort",
    log_in: "Anmelden",
    logged_in_as: "Angemeldet als {user}",
    your_balance: "Ihr Guthaben",
    pin_label: "Ihre 6-stellige PIN",
    pay_button: "{amount} bezahlen",
    decline_button: "Ablehnen",
    log_out: "Abmelden",
    not_found_title: "Zahlungsanforderung nicht gefunden",
    not_found_text: "Der Link ist vielleicht falsch geschrieben, oder die Anforderung existiert nicht mehr.",
    error_title: "Etwas ist schiefgelaufen",
    err_csrf: "Dieses Formular ist abgelaufen oder kam von einer anderen Website. Laden Sie die Seite neu und versuchen Sie es erneut.",
    err_login: "Benutzername oder Passwort ist nicht korrekt.",
    err_pin: "Die PIN ist nicht korrekt. Verbleibende Versuche: {n}.",
    err_pin_blocked: "Zu viele falsche PINs. Ihre PIN ist vorerst gesperrt; es wurde nichts bezahlt.",
    err_unknown_user: "Kein PinPay-Wallet hat diesen Benutzernamen.",
    err_funds: "Ihr Guthaben reicht für diese Zahlung nicht aus.",
    err_limit: "Diese Zahlung überschreitet ein Limit Ihres Kontos.",
    err_other: "Die Zahlung konnte nicht abgeschlossen werden.",
    err_session: "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
    err_too_many: "Zu viele Versuche. Bitte warten Sie einen Moment.",
    err_addressed: "Diese Anforderung ist an ein anderes Wallet gerichtet.",
    err_pin_format: "Eine PIN besteht aus genau 6 Ziffern.",
    err_pin_not_set: "Ihr Wallet hat noch keine PIN. Legen Sie eine in der PinPay-App fest und zahlen Sie dann hier; es wurde nichts bezahlt.",
    err_own_request: "Dies ist Ihre eigene Zahlungsanforderung; sie wird aus einem anderen Wallet bezahlt.",
    passkey_note: "Mit Ihrem Passkey: Er signiert {amount} an {merchant}.",
    err_passkey: "Ihr Passkey hat diese Zahlung nicht bestätigt. Versuchen Sie es erneut; es wurde nichts bezahlt.",
    err_device_required: "Diese Zahlung braucht neben Ihrer PIN einen Passkey. Legen Sie einen in der PinPay-App an und zahlen Sie dann hier; es wurde nichts bezahlt.",
    language: "Sprache",
    mail_subject: "{merchant} bittet Sie um {amount}",
    mail_body: "{merchant} bittet Sie, {amount} zu bezahlen.",
    mail_valid_until: "Der Link ist gültig bis {deadline}.",
};

pub static FR: Texts = Texts {
    months: ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    page_title: "Payer {merchant}",
    requested_by: "Demande de paiement de",
    amount: "Montant",
    original_amount: "Montant d’origine",
    description: "Pour",
    reference: "Référence",
    pay_before: "À payer avant le",
    time_left: "Temps restant",
    status: "Statut",
    st_pending: "En attente de paiement",
    st_approved: "Payé",
    st_declined: "Refusé",
    st_expired: "Expiré",
    st_cancelled: "Annulé",
    res_approved: "Payé. Merci !",
    res_declined: "Le paiement a été refusé.",
    res_expired: "Cette demande de paiement a expiré.",
    res_cancelled: "Le marchand a annulé cette demande de paiement.",
    back_to_shop: "Retour à {merchant}",
    returning: "Retour à la boutique…",
    with_app: "Payer avec l’application PinPay",
    scan_qr: "Scannez le code avec l’appareil photo de votre téléphone ou l’application PinPay.",
    open_in_app: "Ouvrir dans l’application PinPay",
    send_to_app: "L’envoyer à mon application",
    send_to_app_help: "Nous envoyons la demande à votre portefeuille ; validez-la avec votre code PIN.",
    your_username: "Votre identifiant PinPay",
    send_button: "Envoyer à mon application",
    waiting_for: "Envoyé à l’application de {user}. Validez-le avec votre code PIN ; cette page se met à jour toute seule.",
    pushed: "Envoyé. Si un portefeuille PinPay porte ce nom d’utilisateur, la demande est maintenant dans son application : validez-la avec votre code PIN. Cette page se met à jour toute seule, et vous pouvez toujours payer ici.",
    addressed_to: "Cette demande est adressée à {user}.",
    pay_here: "Payer ici",
    username: "Identifiant",
    password: "Mot de passe",
    log_in: "Se connecter",
    logged_in_as: "Connecté en tant que {user}",
    your_balance: "Votre solde",
    pin_label: "Votre code PIN à 6 chiffres",
    pay_button: "Payer {amount}",
    decline_button: "Refuser",
    log_out: "Se déconnecter",
    not_found_title: "Demande de paiement introuvable",
    not_found_text: "Le lien est peut-être mal saisi, ou la demande n’existe plus.",
    error_title: "Un problème est survenu",
    err_csrf: "Ce formulaire a expiré ou provient d’un autre site. Rechargez la page et réessayez.",
    err_login: "L’identifiant ou le mot de passe est incorrect.",
    err_pin: "Le code PIN est incorrect. Essais restants : {n}.",
    err_pin_blocked: "Trop de codes PIN erronés. Votre code est bloqué pour le moment ; rien n’a été payé.",
    err_unknown_user: "Aucun portefeuille PinPay ne porte cet identifiant.",
    err_funds: "Votre solde est insuffisant pour ce paiement.",
    err_limit: "Ce paiement dépasse une limite de votre compte.",
    err_other: "Le paiement n’a pas pu être effectué.",
    err_session: "Votre session a expiré. Veuillez vous reconnecter.",
    err_too_many: "Trop de tentatives. Veuillez patienter un instant.",
    err_addressed: "Cette demande est adressée à un autre portefeuille.",
    err_pin_format: "Un code PIN comporte exactement 6 chiffres.",
    err_pin_not_set: "Votre portefeuille n’a pas encore de code PIN. Définissez-en un dans l’application PinPay, puis payez ici ; rien n’a été payé.",
    err_own_request: "Ceci est votre propre demande de paiement ; elle se paie depuis un autre portefeuille.",
    passkey_note: "Avec votre clé d’accès : elle signe {amount} à {merchant}.",
    err_passkey: "Votre clé d’accès n’a pas confirmé ce paiement. Réessayez ; rien n’a été payé.",
    err_device_required: "Ce paiement demande une clé d’accès en plus de votre code PIN. Ajoutez-en une dans l’application PinPay, puis payez ici ; rien n’a été payé.",
    language: "Langue",
    mail_subject: "{merchant} vous demande de payer {amount}",
    mail_body: "{merchant} vous demande de payer {amount}.",
    mail_valid_until: "Le lien est valable jusqu’au {deadline}.",
};

pub static HE: Texts = Texts {
    months: [
        "ינואר",
        "פברואר",
        "מרץ",
        "אפריל",
        "מאי",
        "יוני",
        "יולי",
        "אוגוסט",
        "ספטמבר",
        "אוקטובר",
        "נובמבר",
        "דצמבר",
    ],
    page_title: "תשלום ל{merchant}",
    requested_by: "בקשת תשלום מאת",
    amount: "סכום",
    original_amount: "הסכום המקורי",
    description: "עבור",
    reference: "אסמכתה",
    pay_before: "לתשלום עד",
    time_left: "זמן שנותר",
    status: "סטטוס",
    st_pending: "ממתין לתשלום",
    st_approved: "שולם",
    st_declined: "נדחה",
    st_expired: "פג תוקף",
    st_cancelled: "בוטל",
    res_approved: "שולם. תודה!",
    res_declined: "התשלום נדחה.",
    res_expired: "תוקף בקשת התשלום הזו פג.",
    res_cancelled: "בית העסק ביטל את בקשת התשלום.",
    back_to_shop: "חזרה אל {merchant}",
    returning: "מחזירים אותך לחנות…",
    with_app: "תשלום באפליקציית PinPay",
    scan_qr: "סרקו את הקוד במצלמת הטלפון או באפליקציית PinPay.",
    open_in_app: "פתיחה באפליקציית PinPay",
    send_to_app: "שליחה לאפליקציה שלי",
    send_to_app_help: "נשלח את הבקשה לארנק שלך; יש לאשר אותה שם עם הקוד הסודי.",
    your_username: "שם המשתמש שלך ב-PinPay",
    send_button: "שליחה לאפליקציה",
    waiting_for: "נשלח לאפליקציה של {user}. יש לאשר שם עם הקוד הסודי; הדף יתעדכן מעצמו.",
    pushed: "נשלח. אם לארנק PinPay יש שם משתמש זה, הבקשה נמצאת עכשיו באפליקציה שלו: יש לאשר אותה שם עם הקוד הסודי. הדף יתעדכן מעצמו, ועדיין אפשר לשלם כאן.",
    addressed_to: "הבקשה הזו מיועדת ל-{user}.",
    pay_here: "תשלום כאן",
    username: "שם משתמש",
    password: "סיסמה",
    log_in: "כניסה",
    logged_in_as: "מחובר/ת בתור {user}",
    your_balance: "היתרה שלך",
    pin_label: "קוד סודי בן 6 ספרות",
    pay_button: "תשלום {amount}",
    decline_button: "דחייה",
    log_out: "יציאה",
    not_found_title: "בקשת התשלום לא נמצאה",
    not_found_text: "ייתכן שהקישור שגוי, או שהבקשה כבר אינה קיימת.",
    error_title: "משהו השתבש",
    err_csrf: "תוקף הטופס פג או שהוא נשלח מאתר אחר. יש לטעון מחדש את הדף ולנסות שוב.",
    err_login: "שם המשתמש או הסיסמה אינם נכונים.",
    err_pin: "הקוד הסודי שגוי. ניסיונות שנותרו: {n}.",
    err_pin_blocked: "יותר מדי קודים שגויים. הקוד הסודי חסום כרגע; דבר לא שולם.",
    err_unknown_user: "אין ארנק PinPay עם שם המשתמש הזה.",
    err_funds: "היתרה שלך אינה מספיקה לתשלום הזה.",
    err_limit: "התשלום חורג ממגבלה של החשבון שלך.",
    err_other: "לא ניתן היה להשלים את התשלום.",
    err_session: "פג תוקף ההתחברות. יש להתחבר שוב.",
    err_too_many: "יותר מדי ניסיונות. יש להמתין רגע ולנסות שוב.",
    err_addressed: "הבקשה הזו מיועדת לארנק אחר.",
    err_pin_format: "קוד PIN הוא בדיוק 6 ספרות.",
    err_pin_not_set:
        "לארנק שלך עדיין אין קוד PIN. יש להגדיר קוד באפליקציית PinPay ואז לשלם כאן; לא בוצע תשלום.",
    err_own_request: "זו בקשת התשלום שלך; משלמים אותה מארנק אחר.",
    passkey_note: "עם מפתח הגישה שלך: הוא חותם על {amount} ל-{merchant}.",
    err_passkey: "מפתח הגישה לא אישר את התשלום. יש לנסות שוב; לא בוצע תשלום.",
    err_device_required: "תשלום זה דורש מפתח גישה בנוסף לקוד ה-PIN. יש להוסיף מפתח באפליקציית PinPay ואז לשלם כאן; לא בוצע תשלום.",
    language: "שפה",
    mail_subject: "{merchant} מבקש/ת ממך לשלם {amount}",
    mail_body: "{merchant} מבקש/ת ממך לשלם {amount}.",
    mail_valid_until: "הקישור בתוקף עד {deadline}.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_query_then_accept_language_then_english() {
        assert_eq!(Lang::pick(Some("he"), Some("de")), Lang::He);
        assert_eq!(Lang::pick(Some("xx"), Some("fr-CH, de;q=0.5")), Lang::Fr);
        assert_eq!(Lang::pick(None, Some("es, de;q=0.8, fr;q=0.9")), Lang::Fr);
        assert_eq!(Lang::pick(None, Some("es")), Lang::En);
        assert_eq!(Lang::pick(None, None), Lang::En);
    }

    #[test]
    fn amounts_as_each_language_writes_them() {
        assert_eq!(Lang::En.money("1234.50", "EUR"), "€1,234.50");
        assert_eq!(Lang::De.money("1234.50", "EUR"), "1.234,50\u{a0}€");
        assert_eq!(
            Lang::Fr.money("1234567.00", "EUR"),
            "1\u{202f}234\u{202f}567,00\u{a0}€"
        );
        assert_eq!(Lang::He.money("12.00", "USD"), "12.00\u{a0}$");
    }
}
