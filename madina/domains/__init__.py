"""City domains: the science that turns raw observations into what a city acts on, one folder per
domain, each with pure formula modules and a small reactive service (see docs/domains.md)."""
