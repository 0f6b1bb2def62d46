"""The payments service. Entitlements derived from every service's events, payouts to hospitals and banks, and API clients."""
