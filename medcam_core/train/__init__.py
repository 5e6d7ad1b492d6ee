"""The model and how it trains: the flat DenseNet121, callbacks, the fit with its frozen-feature cache,
the tf.data input pipeline, device strategy and thread settings.
"""
