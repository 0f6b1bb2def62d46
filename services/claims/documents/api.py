"""`GET /v1/claims/{claim_id}/documents` and each document's PDF: for the agency alone."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from sqlalchemy import select

from libs.db import writing
from libs.runtime.service import ServiceContext
from libs.web.auth import Principal, agency_only
from libs.web.problems import conflict, not_found

from .projection import render_stored
from .tables import claim_documents

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_DOCUMENTS = 1000
TITLES = {"recognition": "工伤认定决定书", "appraisal": "劳动能力鉴定结论书", "appeal_decision": "复议、诉讼或再次鉴定结果通知书",
          "payment_advice": "工伤保险待遇支付通知书"}


def build_router(ctx: ServiceContext) -> APIRouter:
    router = APIRouter(tags=["documents"])
    c = claim_documents.c

    @router.get("/v1/claims/{claim_id}/documents",
                summary="The claim's written decisions: recognition, appraisal, appeal decisions, payment advices "
                        "(PDF, in Chinese)",
                description="Each with its verification code and, once rendered, the SHA-256 of its PDF. "
                            "Decisions and conclusions are rendered when issued; a payment advice, and the past "
                            "decisions of a claim migrated at go-live, when first downloaded (then its hash is "
                            "recorded and the same bytes are served ever after).")
    def list_documents(claim_id: str = Path(pattern=ID), _p: Principal = Depends(agency_only)) -> dict:
        with ctx.session_factory() as s:
            rows = s.execute(select(c.document_id, c.kind, c.issued_on, c.verification_code, c.sha256,
                                    c.source_event_id, c.title).where(c.claim_id == claim_id)
                             .order_by(c.issued_on, c.document_id).limit(MAX_DOCUMENTS)).all()
        return {"claim_id": claim_id, "items": [
            {"document_id": r.document_id, "kind": r.kind, "title": r.title or TITLES[r.kind], "issued_on": r.issued_on,
             "verification_code": r.verification_code, "sha256": r.sha256,
             "source_event_id": r.source_event_id.split(":", 1)[0],
             "href": f"/v1/claims/{claim_id}/documents/{r.document_id}"} for r in rows]}

    @router.get("/v1/claims/{claim_id}/documents/{document_id}", summary="A written decision as a PDF",
                responses={200: {"content": {"application/pdf": {}}}})
    def get_document(claim_id: str = Path(pattern=ID), document_id: str = Path(pattern=r"^doc_[0-9a-f]{24}$"),
                     _p: Principal = Depends(agency_only)) -> Response:
        def find(s):  # noqa: ANN001, ANN202
            return s.execute(select(claim_documents).where(c.document_id == document_id,
                                                           c.claim_id == claim_id)).first()

        with ctx.session_factory() as s:
            row = find(s)
        if row is None:
            raise not_found("document", document_id)
        if row.pdf is None:  # an advice or a migrated decision, asked for the first time: rendered once, its hash kept
            with writing(ctx.session_factory) as s:
                if not render_stored(s, find(s)):
                    raise conflict(f"document {document_id} waits for facts not yet known here (the parties' names)")
            with ctx.session_factory() as s:
                row = find(s)
        return Response(row.pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{document_id}.pdf"', "X-Document-SHA256": row.sha256,
            "X-Verification-Code": row.verification_code})

    return router
