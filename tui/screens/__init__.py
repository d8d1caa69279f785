"""Screens of the dashboard: overview, pod detail, help, confirmation and prompts."""
