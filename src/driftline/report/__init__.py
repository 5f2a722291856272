"""Human-readable reports (self-contained HTML)."""
