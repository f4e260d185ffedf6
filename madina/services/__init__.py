"""Citizen-facing services with their own rules (Open311, participation): private data in their
own tables, the public side published as entities through the broker."""
