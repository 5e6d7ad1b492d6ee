"""Screens and modals pushed over the home screen."""
