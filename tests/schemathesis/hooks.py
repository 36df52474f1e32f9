"""Schemathesis hooks for telleverk's API (loaded through SCHEMATHESIS_HOOKS).

Two rules of the API cannot be written in OpenAPI, so schema-valid (positive)
cases that break them are adjusted before they are sent; negative cases are
left alone. Nothing here loosens a check:

* `GET /api/v1/reports/counters`: `to` must be after `from`.
* `POST /api/v1/contracts/{id}/invoice-checks` takes the vendor's invoice
  file: a CSV whose columns and figures OpenAPI cannot describe (a string
  schema admits any text). Positive cases send the operation's own example
  file, whose every line is an invoice line; negative cases (not text) and
  the tests in tests/it test the refusals.
* A local time `YYYY-MM-DD HH:MM` (Europe/Oslo) between 02:00 and 02:59 on
  the last Sunday of March does not exist, and on the last Sunday of October
  occurs twice; the API refuses both and asks for an offset. Positive cases
  move every local 02:MM to 03:MM, which exists exactly once on every day.
"""

import datetime

import schemathesis

COUNTERS = "GET /api/v1/reports/counters"
READINGS = "/api/v1/devices/{serial}/readings"
INVOICE_CHECKS = "POST /api/v1/contracts/{id}/invoice-checks"


def _one_hour_later(text):
    if isinstance(text, str) and len(text) == 16 and text[10:14] == " 02:":
        return text[:11] + "03" + text[13:]
    return text


def _day(text):
    return datetime.date.fromisoformat(text)


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    label = case.operation.label
    if label == COUNTERS and case.query:
        start, end = case.query.get("from"), case.query.get("to")
        if isinstance(start, str) and isinstance(end, str) and end <= start:
            start, end = end, start
            if start == end:
                if _day(end) < datetime.date(2099, 12, 31):
                    end = (_day(end) + datetime.timedelta(days=1)).isoformat()
                else:
                    start = (_day(start) - datetime.timedelta(days=1)).isoformat()
            case.query["from"], case.query["to"] = start, end
    if label == INVOICE_CHECKS:
        content = case.operation.definition.raw["requestBody"]["content"]
        case.body = content["text/csv"]["example"]
    if label.endswith(READINGS):
        if case.query:
            for name in ("from", "to"):
                if name in case.query:
                    case.query[name] = _one_hour_later(case.query[name])
        if isinstance(case.body, dict) and "taken_at" in case.body:
            case.body["taken_at"] = _one_hour_later(case.body["taken_at"])
    return case


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@schemathesis.deserializer(XLSX)
def deserialize_xlsx(ctx, response):
    """An XLSX answer must be a workbook: a ZIP holding xl/workbook.xml. It
    is given to the response schema (a string) as the names it holds."""
    import io
    import zipfile

    try:
        names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not an XLSX workbook: {exc}") from exc
    if "xl/workbook.xml" not in names:
        raise ValueError(f"not an XLSX workbook: no xl/workbook.xml in {names}")
    return " ".join(names)
