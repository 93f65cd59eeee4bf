"""English and Arabic texts for everything a customer reads in an API answer. English strings
are the message ids (as in gettext); a message with no translation stays in English."""

_ARABIC = {
    # error envelopes (app.errors)
    "Something went wrong on our side.": "حدث خطأ من جهتنا.",
    "The request body must be a JSON object.": "يجب أن يكون محتوى الطلب كائن JSON.",
    "The request body is not valid JSON.": "محتوى الطلب ليس JSON صالحًا.",
    "Send the body as application/json.": "أرسل محتوى الطلب بصيغة application/json.",
    "That code is not correct.": "الرمز غير صحيح.",
    "The token is missing, invalid or expired.": "رمز الدخول مفقود أو غير صالح أو منتهي الصلاحية.",
    "A valid API key is required.": "يلزم مفتاح API صالح.",
    "Nothing lives at this address.": "لا يوجد شيء في هذا العنوان.",
    "This registration does not exist or has expired.": "عملية التسجيل هذه غير موجودة أو انتهت صلاحيتها.",
    "This sign-in does not exist or has expired.": "عملية تسجيل الدخول هذه غير موجودة أو انتهت صلاحيتها.",
    "No account uses this phone number or email.": "لا يوجد حساب بهذا الرقم أو البريد الإلكتروني.",
    "This method is not allowed here.": "هذه الطريقة غير مسموح بها هنا.",
    "An account with these details already exists.": "يوجد حساب بهذه البيانات بالفعل.",
    "This registration is already complete.": "اكتملت عملية التسجيل هذه بالفعل.",
    "This sign-in is already complete.": "اكتملت عملية تسجيل الدخول هذه بالفعل.",
    "Another account uses this email address.": "هذا البريد الإلكتروني مستخدم في حساب آخر.",
    "Another account uses this phone number.": "رقم الجوال هذا مستخدم في حساب آخر.",
    "This Idempotency-Key was used for another request.": "استُخدم مفتاح Idempotency-Key هذا لطلب آخر.",
    "This code has expired. Ask for a new one.": "انتهت صلاحية الرمز. اطلب رمزًا جديدًا.",
    "The request body is too large.": "محتوى الطلب كبير جدًا.",
    "The request body is nested too deeply.": "محتوى الطلب متداخل بعمق زائد.",
    "The request holds a value that cannot be stored.": "يحتوي الطلب على قيمة لا يمكن حفظها.",
    "Idempotency-Key must be 1 to 255 characters.": "يجب أن يتكون Idempotency-Key من 1 إلى 255 محرفًا.",
    "Some fields are not valid.": "بعض الحقول غير صالحة.",
    "Too many wrong codes. Start again.": "أدخلت رموزًا خاطئة كثيرة. ابدأ من جديد.",
    "Please wait before asking for a new code.": "يرجى الانتظار قبل طلب رمز جديد.",
    "No more codes can be sent. Use the last one or start again.": "لا يمكن إرسال رموز أخرى. استخدم آخر رمز أو ابدأ من جديد.",
    "Too many requests. Try again later.": "طلبات كثيرة جدًا. حاول لاحقًا.",
    "We could not send the code right now. Try again shortly.": "تعذّر إرسال الرمز الآن. حاول بعد قليل.",
    "The service is temporarily unavailable.": "الخدمة غير متاحة مؤقتًا.",
    # field messages (app.identity and the schemas)
    "Missing data for required field.": "هذا الحقل مطلوب.",
    "Field may not be null.": "لا يمكن أن يكون هذا الحقل فارغًا.",
    "Unknown field.": "حقل غير معروف.",
    "Not a valid string.": "يجب أن تكون القيمة نصًا.",
    "This field may not be empty.": "لا يمكن أن يكون هذا الحقل فارغًا.",
    "Use at most 64 characters.": "استخدم 64 حرفًا على الأكثر.",
    "Control characters are not allowed.": "لا يُسمح بأحرف التحكم.",
    "Not a known ISO 3166-1 alpha-2 country code.": "رمز الدولة ليس رمز ISO 3166-1 معروفًا من حرفين.",
    "Use the dialling code in digits, such as 966 or +966.": "اكتب مفتاح الدولة بالأرقام، مثل 966 أو ‎+966.",
    "This dialling code does not belong to the country.": "مفتاح الاتصال هذا لا يتبع الدولة المختارة.",
    "Not a valid phone number.": "رقم الجوال غير صالح.",
    "Not a valid phone number for this country.": "رقم الجوال غير صالح لهذه الدولة.",
    "Use a mobile number: the code is sent by SMS.": "استخدم رقم جوال، فالرمز يُرسل برسالة نصية.",
    "Not a valid email address.": "البريد الإلكتروني غير صالح.",
    "Required when verified_by is phone.": "مطلوب عند التحقق عبر الجوال.",
    "Required when verified_by is email.": "مطلوب عند التحقق عبر البريد الإلكتروني.",
    "Required when phone is given.": "مطلوب عند إدخال رقم الجوال.",
    "Required when country_key is given.": "مطلوب عند إدخال مفتاح الدولة.",
    "Not used when verified_by is phone.": "لا يُستخدم عند التحقق عبر الجوال.",
    "Not used when verified_by is email.": "لا يُستخدم عند التحقق عبر البريد الإلكتروني.",
    "Must be one of: phone, email.": "يجب أن تكون إحدى القيم: phone أو email.",
    "Must be one of: en, ar.": "يجب أن تكون إحدى القيم: en أو ar.",
    "Codes cannot be sent by SMS to this country.": "لا يمكن إرسال الرموز برسالة نصية إلى هذه الدولة.",
    "Enter every digit of the code we sent, and nothing else.": "أدخل جميع أرقام الرمز الذي أرسلناه، ولا شيء غيرها.",
    "Invalid input type.": "نوع المدخلات غير صالح.",
}


def translate(message: str, locale: str) -> str:
    """The message in `locale`, or in English when there is no translation."""
    return _ARABIC.get(message, message) if locale == "ar" else message


def translate_errors(errors: dict, locale: str) -> dict[str, list[str]]:
    """Translate marshmallow's field → messages, flattening what it nests (a list's items) into
    the field's list, each message prefixed with where it applies (`0: Not a valid string.`)."""
    return {field: _messages(messages, locale) for field, messages in errors.items()}


def _messages(messages, locale: str, where: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [
            message
            for key, inner in messages.items()
            for message in _messages(inner, locale, f"{where}{key}: ")
        ]
    if isinstance(messages, str):
        messages = [messages]
    return [where + translate(str(message), locale) for message in messages]
