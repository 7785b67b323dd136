"""Thin views: check the request, ask the account and the core, render the answer."""
