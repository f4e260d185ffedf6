"""Public safety: flood gauges and heat, and the public warnings they raise (OASIS CAP 1.2
messages, an Atom feed of them, and NGSI-LD `Alert` entities). See docs/domains.md."""
