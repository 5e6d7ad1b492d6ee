"""Widgets of the home screen, each updated in place from the view model."""
