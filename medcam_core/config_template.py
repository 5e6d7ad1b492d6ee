"""The commented `medcam.toml` that `medcam-tui init` writes: the plan's 5 datasets × 2 presets."""

TEMPLATE = """# medcam-tui queue: every [[datasets]] entry is trained with every preset in queue.presets,
# dataset by dataset (pneumonia/standard, pneumonia/intensive, cardiomegaly/standard, ...).
# Paths are relative to this file. Run it with:  medcam-tui run --headless --config medcam.toml

[queue]
output = "new"                        # output root: one densenet121_<dataset>_<preset>_models/ per job
presets = ["standard", "intensive"]   # order within each dataset

# Built-in presets; every key below may be overridden, and new [presets.NAME] tables added.
[presets.standard]
epochs = 10
image_size = 224              # pixels, square
batch_size = 16
learning_rate = 1e-4
trainable_layers = 20         # last N layers of the model train; or "all"; or a layer name to train from
patience = 5                  # early stopping: epochs without improvement of `monitor`
monitor = "val_loss"          # val_loss | val_auc | val_accuracy
reduce_lr_factor = 0.5        # ReduceLROnPlateau
reduce_lr_patience = 3
min_lr = 1e-7
weights = "imagenet"          # "imagenet" (Keras cache, or one download), "none", or a path to a no-top .h5
dropout = 0.5
dense_units = 256
bn_momentum = 0.99            # momentum of the trainable BatchNorm statistics; 0.9 adapts faster on small data
seed = 42
cache_features = true         # run the frozen layers once per dataset instead of every epoch
precise_bn = true             # after training, set trainable BatchNorm statistics to exact training-set averages

[presets.intensive]
epochs = 15
patience = 7

[evaluation]
threshold = "youden"          # chosen on the validation split; or "sensitivity" with target_sensitivity
target_sensitivity = 0.9
bootstrap = 1000              # resamples for the 95% confidence intervals (patients when ids exist)
confidence = 0.95

# Each dataset: a folder with one sub-folder per class, optionally inside train/ val/ test/.
# Missing splits are carved from train, grouped by patient when `patient_id` is given.
# Classes in `positive` are label 1; `negative` (default: every other class) are label 0.

[[datasets]]
name = "pneumonia"            # Kermany chest X-ray: chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}
path = "data/chest_xray"
positive = ["PNEUMONIA"]
negative = ["NORMAL"]
patient_id = '^((?:NORMAL2-)?IM-\\d+|person\\d+)'
max_per_class = 500

[[datasets]]
name = "cardiomegaly"         # NIH ChestX-ray14, sorted into one folder per class
path = "data/cardiomegaly"
positive = ["Cardiomegaly"]
negative = ["No Finding"]
patient_id = '^(\\d+)_'
max_per_class = 500

[[datasets]]
name = "osteoporosis"         # knee X-rays: normal/ osteopenia/ osteoporosis/
path = "data/knee_osteoporosis"
positive = ["osteoporosis"]
negative = ["normal"]
max_per_class = 500

[[datasets]]
name = "osteoarthritis"       # knee KL grades: {train,val,test}/{0,1,2,3,4}; positive = KL >= 2
path = "data/knee_kl"
positive = ["2", "3", "4"]
negative = ["0", "1"]
max_per_class = 500

[[datasets]]
name = "limbabnormalities"    # MURA forearm + humerus, sorted into one folder per class
path = "data/mura_limb"
positive = ["positive"]
negative = ["negative"]
patient_id = '^(patient\\d+)'
max_per_class = 500
"""
