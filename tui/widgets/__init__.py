"""Widgets of the dashboard: each draws one kind of snapshot value and never calls the API."""
