"""Written decisions: the recognition decision, the appraisal conclusion, each decision on an
appeal and each payment advice as PDF documents in Chinese, issued once from the events, kept
with their hash and verification code, listed and served to the agency alone
(`GET /v1/claims/{claim_id}/documents`)."""
