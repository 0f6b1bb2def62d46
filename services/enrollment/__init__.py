"""The enrollment service. Employers and their workers: who is insured, where, since when; and the region's policy versions."""
