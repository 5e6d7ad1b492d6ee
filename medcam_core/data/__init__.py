"""Datasets as downloaded → labelled, patient-grouped, decoded samples: finding files (recipes),
labels, splits, decoding, scratch records, leak audit, data check, the synthetic demo.
"""
