// Registrar's storefront elements, <registration-form> and <login-form> (API.md §7).
// One file with no dependency and no build step: load it with <script type="module" src>
// or with a classic <script src>. The elements keep no token: the page gets them in the
// `registered` or `signed-in` event and decides what to do with them.
(() => {
  if (customElements.get("registration-form")) return;

  const source =
    document.currentScript?.src ||
    (new Error().stack || "").match(/https?:\/\/\S+?\/widget\/registration\.js/)?.[0] ||
    document.querySelector('script[src*="/widget/registration.js"]')?.src;
  const ORIGIN = source ? new URL(source, location.href).origin : location.origin;

  const REGIONS =
    "AC AD AE AF AG AI AL AM AO AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BW " +
    "BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET " +
    "FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GT GU GW GY HK HN HR HT HU ID IE IL IM IN " +
    "IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD " +
    "ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA " +
    "PE PF PG PH PK PL PM PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS " +
    "ST SV SX SY SZ TA TC TD TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG US UY UZ VA VC VE VG VI VN VU WF " +
    "WS XK YE YT ZA ZM ZW";

  const TEXTS = {
    en: {
      first_name: "First name",
      last_name: "Last name (optional)",
      country_code: "Country",
      phone: "Mobile number",
      email: "Email",
      verified_by: "Send my code by",
      by_phone: "Text message",
      by_email: "Email",
      register: "Create account",
      login: "Sign in",
      code: "Code",
      sent_to: "Enter the code we sent to",
      verify: "Confirm",
      resend: "Send a new code",
      back: "Change my details",
      code_sent: "Code sent.",
      can_resend: "You can ask for a new code.",
      attempts: "Attempts left: {n}.",
      retry: "Too many tries. Try again in {n} seconds.",
      busy: "The service is busy. Try again shortly.",
      offline: "The service cannot be reached. Check your connection and try again.",
      registered: "Your account is ready.",
      signed_in: "You are signed in.",
    },
    ar: {
      first_name: "الاسم الأول",
      last_name: "اسم العائلة (اختياري)",
      country_code: "الدولة",
      phone: "رقم الجوال",
      email: "البريد الإلكتروني",
      verified_by: "أرسل الرمز عبر",
      by_phone: "رسالة نصية",
      by_email: "البريد الإلكتروني",
      register: "إنشاء حساب",
      login: "تسجيل الدخول",
      code: "رمز التحقق",
      sent_to: "أدخل الرمز الذي أرسلناه إلى",
      verify: "تأكيد",
      resend: "إرسال رمز جديد",
      back: "تعديل بياناتي",
      code_sent: "تم إرسال الرمز.",
      can_resend: "يمكنك طلب رمز جديد.",
      attempts: "المحاولات المتبقية: {n}.",
      retry: "محاولات كثيرة. حاول مرة أخرى بعد {n} ثانية.",
      busy: "الخدمة مشغولة. حاول مرة أخرى بعد قليل.",
      offline: "تعذر الوصول إلى الخدمة. تحقق من اتصالك وحاول مرة أخرى.",
      registered: "تم إنشاء حسابك.",
      signed_in: "تم تسجيل دخولك.",
    },
  };

  const CSS = `
:host{display:block;font-family:var(--registrar-font,system-ui,sans-serif);color:#1f1f1f;max-width:26rem}
:host([hidden]){display:none}
form{display:grid;gap:.75rem;margin:0}
fieldset{border:0;margin:0;padding:0;display:flex;gap:1rem;flex-wrap:wrap}
legend{padding:0;margin-bottom:.25rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
fieldset label{display:inline;font-weight:400}
input:not([type=radio]),select{box-sizing:border-box;width:100%;font:inherit;padding:.55rem .65rem;
 border:1px solid #757575;border-radius:var(--registrar-radius,8px);background:#fff;color:inherit}
input:focus-visible,select:focus-visible,button:focus-visible{outline:2px solid var(--registrar-accent,#0b57d0);outline-offset:2px}
[aria-invalid=true]{border-color:#b3261e}
input[name=code]{font-family:ui-monospace,monospace;font-size:1.5rem;letter-spacing:.4em;text-align:center}
[dir=ltr]{text-align:left}[dir=rtl] [dir=ltr]:not([name=code]){text-align:right}
button{font:inherit;cursor:pointer;border-radius:var(--registrar-radius,8px);padding:.6rem 1rem}
[part~=button]{border:0;background:var(--registrar-accent,#0b57d0);color:#fff;font-weight:600}
[part~=resend],.link{border:1px solid var(--registrar-accent,#0b57d0);background:#fff;color:var(--registrar-accent,#0b57d0)}
.link{border:0;padding:.25rem 0;text-decoration:underline;justify-self:start}
button:disabled{cursor:default;opacity:.75;border-color:#757575;color:#4a4a4a}
[part~=error]{color:#b3261e;margin:.25rem 0 0}p:empty:not([role]){display:none}
p{margin:0}[role=status]{color:#1e6b33;margin-top:.5rem}[role]:empty{margin:0}.row{display:grid;grid-template-columns:2fr 3fr;gap:.5rem}
[hidden]{display:none!important}`;

  const toAscii = (text) => String(text).replace(/[\u0660-\u0669\u06f0-\u06f9]/g, (d) => d.charCodeAt(0) & 15);
  const digitsOf = (text) => toAscii(text).replace(/\D/g, "");
  const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

  function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value === true ? "" : value);
    }
    element.append(...children.filter((child) => child !== null));
    return element;
  }

  let sheet = null;
  function style(root) {
    // A constructed sheet works on pages whose Content-Security-Policy forbids inline styles.
    if ("adoptedStyleSheets" in root) {
      if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else root.append(h("style", {}, CSS));
  }

  class CodeForm extends HTMLElement {
    static observedAttributes = ["locale", "verified-by", "country"];

    constructor() {
      super();
      style(this.attachShadow({ mode: "open" }));
      this.step = "form";
      this.values = {};
    }

    connectedCallback() {
      this.save();
      this.render();
      if (this.step !== "code") return;
      // Moved elsewhere in the page: the code step goes on where it was.
      this.countDown(Math.max(0, Math.ceil((this.resendAt - Date.now()) / 1000)));
      this.listenForSms();
    }

    disconnectedCallback() {
      this.endCodeStep();
    }

    attributeChangedCallback(name) {
      if (!this.body) return;
      this.save();
      if (name === "country") delete this.values.country_code; // the page's new choice wins
      this.render();
    }

    get locale() {
      const given = (this.getAttribute("locale") || document.documentElement.lang || "").split("-")[0].toLowerCase();
      return given in TEXTS ? given : "en";
    }

    get api() {
      return (this.getAttribute("api-base") || ORIGIN).replace(/\/+$/, "");
    }

    get choice() {
      return this.getAttribute("verified-by") === "choice";
    }

    get channel() {
      const named = this.getAttribute("verified-by");
      return this.choice ? this.values.verified_by || "phone" : named === "email" ? "email" : "phone";
    }

    t(key, n) {
      return TEXTS[this.locale][key].replace("{n}", n);
    }

    emit(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
    }

    $(selector) {
      return this.shadowRoot.querySelector(selector);
    }

    render() {
      const locale = this.locale;
      this.alert = h("p", { role: "alert", part: "error" });
      this.status = h("p", { role: "status" });
      this.body = h("div");
      this.shadowRoot.replaceChildren(
        h("div", { lang: locale, dir: locale === "ar" ? "rtl" : "ltr" }, this.body, this.alert, this.status),
      );
      this.show();
    }

    show() {
      this.alert.textContent = "";
      const step = this.step === "form" ? this.formStep() : this.step === "code" ? this.codeStep() : h("p", {}, this.t(this.success[1]));
      this.body.replaceChildren(step);
    }

    save() {
      for (const input of this.shadowRoot.querySelectorAll("[name]")) {
        if (input.type !== "radio" || input.checked) this.values[input.name] = input.value;
      }
    }

    field(name, attributes = {}, tag = "input", ...children) {
      const control = h(tag, {
        id: `f-${name}`,
        name,
        part: "input",
        "aria-describedby": `e-${name}`,
        value: tag === "input" ? (this.values[name] ?? null) : null,
        ...attributes,
      }, ...children);
      return h("div", { part: "field", "data-for": name }, h("label", { for: `f-${name}` }, this.t(name)), control, h("p", { id: `e-${name}`, part: "error" }));
    }

    countries() {
      const names = new Intl.DisplayNames([this.locale], { type: "region" });
      const chosen = this.values.country_code || (this.getAttribute("country") || "SA").toUpperCase();
      return REGIONS.split(" ")
        .map((code) => [code, names.of(code)])
        .sort((a, b) => a[1].localeCompare(b[1], this.locale))
        .map(([code, name]) => h("option", { value: code, selected: code === chosen }, name));
    }

    formStep() {
      const form = h("form", { part: "form", novalidate: true });
      if (this.choice) {
        const radio = (value) => h("label", {}, h("input", { type: "radio", name: "verified_by", value, checked: this.channel === value }), ` ${this.t(`by_${value}`)}`);
        form.append(h("fieldset", {}, h("legend", {}, this.t("verified_by")), radio("phone"), radio("email")));
      }
      form.append(...this.fields());
      form.append(
        h("div", { class: "row", "data-group": "phone" }, this.field("country_code", { autocomplete: "country" }, "select", ...this.countries()),
          this.field("phone", { type: "tel", autocomplete: "tel-national", inputmode: "tel", dir: "ltr" })),
        h("div", { "data-group": "email" }, this.field("email", { type: "email", autocomplete: "email", dir: "ltr", spellcheck: "false" })),
        h("button", { part: "button", type: "submit" }, this.t(this.submitLabel)),
      );
      form.addEventListener("change", (event) => {
        if (event.target.name === "verified_by") this.channelChosen(form, event.target.value);
      });
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.start(form);
      });
      this.channelChosen(form, this.channel);
      return form;
    }

    channelChosen(form, channel) {
      this.values.verified_by = channel;
      for (const name of ["phone", "email"]) {
        form.querySelector(`[name=${name}]`).required = name === channel;
        if (this.onlyChosenChannel) form.querySelector(`[data-group=${name}]`).hidden = name !== channel;
      }
    }

    payload() {
      const channel = this.channel;
      const body = { verified_by: channel, locale: this.locale };
      for (const name of this.names) {
        const value = (this.values[name] || "").trim();
        const wanted = !this.onlyChosenChannel || ![ "phone", "email"].includes(name) || name === channel;
        if (value && wanted) body[name] = name === "phone" ? toAscii(value) : value;
      }
      if (body.phone) body.country_code = this.values.country_code;
      return body;
    }

    async start(form) {
      this.save();
      this.values.code = "";
      for (const slot of form.querySelectorAll("[id^=e-]")) slot.textContent = "";
      for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
      const answer = await this.post(this.path, this.payload(), true);
      if (!answer) return;
      if (answer.status !== 202) return this.refused(answer, form);
      this.challenge = { ...answer.body };
      this.step = "code";
      this.show();
      this.codeSent(answer.body);
      // Taken out of the page meanwhile: connectedCallback picks the code step up again.
      if (!this.isConnected) return this.endCodeStep();
      this.$("[name=code]").focus();
      this.listenForSms();
    }

    refused(answer, form) {
      const errors = answer.body.errors || {};
      const unplaced = [];
      for (const [name, messages] of Object.entries(errors)) {
        const control = form.querySelector(`[name=${name}]:not([type=radio])`);
        const slot = this.$(`#e-${name}`);
        if (control && slot) {
          control.setAttribute("aria-invalid", "true");
          slot.textContent = messages.join(" ");
        } else unplaced.push(...messages);
      }
      if (answer.status === 422) {
        form.querySelector("[aria-invalid=true]")?.focus();
        this.alert.textContent = unplaced.join(" ");
      } else this.explain(answer);
      if (this.endings.includes(answer.body.code)) this.emit(this.failure, answer.body);
    }

    explain(answer, extra = "") {
      const { status, body } = answer;
      const wait = body.retry_after ?? answer.retryAfter;
      let message = body.message || this.t("busy");
      if (status === 503) message = this.t("busy");
      else if (status === 429 && wait && body.code !== "too_many_attempts") message = this.t("retry", wait);
      this.alert.textContent = `${message} ${extra}`.trim();
    }

    async post(path, body, fresh) {
      if (this.busy) return null;
      this.busy = true;
      this.alert.textContent = "";
      const headers = { "Content-Type": "application/json", "Accept-Language": this.locale };
      if (fresh) headers["Idempotency-Key"] = newKey();
      try {
        const response = await fetch(this.api + path, { method: "POST", headers, body: JSON.stringify(body), credentials: "omit" });
        const answer = await response.json().catch(() => ({}));
        return { status: response.status, body: answer, retryAfter: response.headers.get("Retry-After") };
      } catch {
        this.alert.textContent = this.t("offline");
        return null;
      } finally {
        this.busy = false;
      }
    }

    codeStep() {
      const { destination, code_length: length } = this.challenge;
      const input = h("input", {
        id: "f-code", name: "code", part: "input code", autocomplete: "one-time-code", inputmode: "numeric",
        dir: "ltr", enterkeyhint: "done", spellcheck: "false", "aria-describedby": "e-code",
        value: this.values.code || null,
      });
      input.style.maxWidth = `${length * 1.4 + 3}em`; // through the CSSOM: a strict CSP allows it
      const typed = () => {
        const digits = digitsOf(input.value).slice(0, length);
        if (digits !== input.value) input.value = digits;
        input.removeAttribute("aria-invalid");
        if (digits.length === length) this.verify(digits);
      };
      input.addEventListener("input", typed);
      input.addEventListener("paste", (event) => {
        event.preventDefault();
        const { selectionStart: from, selectionEnd: to, value } = input;
        input.value = value.slice(0, from) + digitsOf(event.clipboardData.getData("text")) + value.slice(to);
        typed();
      });
      // Drawn again (another language, say) after the countdown: enabled at once.
      const waiting = !(Date.now() >= this.resendAt);
      const resend = h("button", { type: "button", part: "resend", disabled: waiting }, this.t("resend"), h("span", { "aria-hidden": "true" }));
      resend.addEventListener("click", () => this.resend());
      const back = h("button", { type: "button", class: "link" }, this.t("back"));
      back.addEventListener("click", () => {
        this.endCodeStep();
        this.step = "form";
        this.show();
      });
      const form = h("form", { part: "form", novalidate: true },
        h("p", {}, `${this.t("sent_to")} `, h("bdi", { dir: "ltr" }, destination)),
        h("div", { part: "field" }, h("label", { for: "f-code" }, this.t("code")), input, h("p", { id: "e-code", part: "error" })),
        h("button", { part: "button", type: "submit" }, this.t("verify")), resend, back);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const digits = digitsOf(input.value);
        if (digits) this.verify(digits);
        else input.focus();
      });
      return form;
    }

    codeSent(challenge) {
      this.challenge = { ...challenge }; // the page's copy of the event stays as it was sent
      this.emit("code-sent", challenge);
      this.say(this.t("code_sent"));
      this.countDown(challenge.resend_in);
    }

    say(text) {
      this.status.textContent = text;
    }

    countDown(seconds) {
      clearInterval(this.timer);
      const until = (this.resendAt = Date.now() + seconds * 1000);
      const tick = () => {
        const button = this.$("[part=resend]");
        const left = Math.ceil((until - Date.now()) / 1000);
        if (!button || this.step !== "code") return clearInterval(this.timer);
        button.disabled = left > 0;
        button.lastChild.textContent = left > 0 ? ` (${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")})` : "";
        if (left > 0) return;
        clearInterval(this.timer);
        if (seconds > 0) this.say(this.t("can_resend"));
      };
      tick();
      if (seconds > 0) this.timer = setInterval(tick, 1000);
    }

    listenForSms() {
      this.sms?.abort();
      if (!window.OTPCredential || !navigator.credentials?.get) return;
      const waiting = (this.sms = new AbortController());
      navigator.credentials.get({ otp: { transport: ["sms"] }, signal: waiting.signal }).then((otp) => {
        const input = this.$("[name=code]");
        if (otp?.code && input && !waiting.signal.aborted) {
          input.value = digitsOf(otp.code);
          this.verify(input.value);
        }
      }, () => {});
    }

    endCodeStep() {
      this.sms?.abort();
      this.sms = null;
      clearInterval(this.timer);
    }

    codePath(action) {
      return `${this.path}/${encodeURIComponent(this.challenge[this.idField])}/${action}`;
    }

    async verify(code) {
      const answer = await this.post(this.codePath("verify"), { code });
      if (!answer || this.step !== "code") return; // the customer went back meanwhile
      const { status, body } = answer;
      if (status === 200 || status === 201) {
        this.finish();
        return this.emit(this.success[0], body);
      }
      const input = this.$("[name=code]");
      input.value = "";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      if (this.endings.includes(body.code) || (body.code === "code_expired" && !this.challenge.resends_left)) {
        this.finish(answer);
        return this.emit(this.failure, body);
      }
      if ("attempts_left" in body) this.challenge.attempts_left = body.attempts_left;
      this.explain(answer, "attempts_left" in body ? this.t("attempts", body.attempts_left) : "");
    }

    async resend() {
      const answer = await this.post(this.codePath("resend"), {});
      if (!answer || this.step !== "code") return; // the customer went back meanwhile
      if (answer.status === 202) {
        this.codeSent(answer.body);
        return this.listenForSms(); // for the new SMS (the code typed meanwhile, if any, is the old one)
      }
      this.explain(answer);
      if (answer.body.code === "resend_too_soon") this.countDown(answer.body.retry_after);
      this.emit("code-not-resent", answer.body);
      if (this.endings.includes(answer.body.code)) {
        this.finish(answer);
        return this.emit(this.failure, answer.body);
      }
      // The code stays valid: one completed while the resend was on its way was not sent; send it now.
      const typed = digitsOf(this.$("[name=code]")?.value || "");
      if (typed.length === this.challenge.code_length) this.verify(typed);
    }

    finish(failure) {
      this.endCodeStep();
      this.challenge = null;
      this.values.code = "";
      this.step = failure ? "form" : "done";
      this.show();
      this.say("");
      if (failure) this.explain(failure);
    }
  }

  class RegistrationForm extends CodeForm {
    path = "/auth/register";
    idField = "registration_id";
    submitLabel = "register";
    names = ["first_name", "last_name", "phone", "email"];
    success = ["registered", "registered"];
    failure = "registration-failed";
    // Answers after which the registration cannot go on: the element goes back to its form.
    endings = ["too_many_attempts", "already_registered", "already_completed", "registration_not_found"];

    fields() {
      return [
        this.field("first_name", { autocomplete: "given-name", required: true }),
        this.field("last_name", { autocomplete: "family-name" }),
      ];
    }
  }

  class LoginForm extends CodeForm {
    path = "/auth/login";
    idField = "login_id";
    submitLabel = "login";
    names = ["phone", "email"];
    success = ["signed-in", "signed_in"];
    failure = "sign-in-failed";
    endings = ["too_many_attempts", "already_completed", "login_not_found", "account_not_found"];
    onlyChosenChannel = true;

    fields() {
      return [];
    }
  }

  customElements.define("registration-form", RegistrationForm);
  customElements.define("login-form", LoginForm);
})();
