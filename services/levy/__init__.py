"""The levy service. Wage reports, contributions assessed and paid, late fees, experience rating and the fund's books."""
