"""The claims service. Injury claims from application to grade: recognition, treatment leave, appraisal, death, the insured wage."""
