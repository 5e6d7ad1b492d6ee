"""Any trained binary classifier put to use: opening model files safely (`model_file`), reading a
model's graph — its image input, binary head and feature maps, nested backbones included (`graph`),
the model with how to feed it and where its threshold came from (`classifier`), and scoring many
images with constant memory (`predict`)."""
