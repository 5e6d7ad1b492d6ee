"""Grad-CAM: the CAM itself, and the examples, panels and localisation figures of a job."""
