"""The visitor's staff-loop routes: "ask the district" and "forget this conversation".

POST /api/enquiries stores the enquiry, then e-mails it (``assistant.handoff``); it is sent
only by the visitor's action and with their consent. DELETE /api/conversation deletes the
conversation's rows (``assistant.privacy``). Both are plain ``def`` routes: SMTP and the
database block, so they run in the thread pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from assistant.privacy import forget_conversation
from assistant.web.deps import ServicesDep, enquiry_rate, forget_rate
from assistant.web.handlers import json_error
from assistant.web.models import (
    EnquiryReceipt,
    EnquiryRequest,
    ErrorResponse,
    ForgetRequest,
    ForgetResponse,
)
from assistant.web.routes.chat import ERROR_RESPONSES, INVALID_RESPONSE

router = APIRouter(prefix="/api", tags=["assistant"])

# What the visitor reads after sending (plain text, in the enquiry's language).
RECEIPT = {
    ("sent", "it"): "La tua richiesta è stata inviata al distretto: ti risponderanno "
    "all'indirizzo che hai indicato.",
    ("sent", "en"): "Your enquiry has been sent to the district: they will reply to the "
    "address you gave.",
    ("failed", "it"): "La tua richiesta è stata salvata, ma ora il server di posta del "
    "distretto non risponde: verrà inviata appena possibile, e il personale la vede già.",
    ("failed", "en"): "Your enquiry is saved, but the district's mail server is not answering "
    "right now: it will be sent as soon as possible, and staff can already see it.",
}
DISABLED = (
    "Enquiries cannot be sent from this site at the moment. Please contact the district "
    "directly: {phone}, {url}."
)


@router.post(
    "/enquiries",
    status_code=201,
    response_model=EnquiryReceipt,
    dependencies=[Depends(enquiry_rate)],
    responses={
        202: {
            "model": EnquiryReceipt,
            "description": "Stored, but the mail server did not take it yet (delivery "
            "`failed`): staff see it in the console and it is sent again.",
        },
        422: INVALID_RESPONSE,
        400: ERROR_RESPONSES[400],
        429: ERROR_RESPONSES[429],
        413: ERROR_RESPONSES[413],
        503: {"model": ErrorResponse, "description": "Enquiries are not configured (no SMTP)."},
    },
)
def send_enquiry(body: EnquiryRequest, services: ServicesDep, request: Request) -> JSONResponse:
    """Send the conversation to the district's inbox, with the visitor's address and consent."""
    settings = services.settings
    if not services.staff.handoff_enabled:
        detail = DISABLED.format(phone=settings.contact_phone, url=settings.contact_url)
        return json_error(503, "enquiries_unavailable", detail, request)
    stored = services.staff.handoff.submit(body.model_dump())
    delivery = "sent" if stored["delivery"] == "sent" else "failed"
    receipt = EnquiryReceipt(
        id=stored["id"], delivery=delivery, message=RECEIPT[(delivery, stored["language"])]
    )
    return JSONResponse(receipt.model_dump(), status_code=201 if delivery == "sent" else 202)


@router.delete(
    "/conversation",
    response_model=ForgetResponse,
    dependencies=[Depends(forget_rate)],
    responses={
        400: ERROR_RESPONSES[400],
        429: ERROR_RESPONSES[429],
        503: ERROR_RESPONSES[503],
    },
)
def forget(body: ForgetRequest, services: ServicesDep) -> ForgetResponse:
    """Delete this conversation's questions, answers and feedback from the database."""
    deleted = forget_conversation(services.db, body.message_ids, body.conversation_id)
    return ForgetResponse(deleted=deleted)
