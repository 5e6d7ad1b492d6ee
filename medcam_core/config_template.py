"""The commented `medcam.toml` that `medcam-tui init` writes: the plan's 5 datasets × 2 presets."""

TEMPLATE = """# medcam-tui queue: every [[datasets]] entry is trained with every preset in queue.presets,
# dataset by dataset (pneumonia/standard, pneumonia/intensive, cardiomegaly/standard, ...).
# Paths are relative to this file. Run it with:  medcam-tui run --headless --config medcam.toml

[queue]
output = "new"                        # output root: one densenet121_<dataset>_<preset>_models/ per job
presets = ["standard", "intensive"]   # order within each dataset
intra_op_threads = 0                  # CPU threads inside one TensorFlow op; 0 = every core
inter_op_threads = 0                  # TensorFlow ops run at once; 0 = TensorFlow's choice
executor = "local"                    # "local", or "ray" (pip install 'medcam-tui[ray]'; ray_address = "head:6379")
parallel = 1                          # jobs at once: spawned processes (one GPU each) or Ray tasks
on_job_end = ""                       # shell command run after each job, e.g. 'notify-send medcam "$MEDCAM_JOB_STATUS"'
                                      # env: MEDCAM_JOB_ID, MEDCAM_JOB_STATUS, MEDCAM_TEST_AUROC, MEDCAM_JOB_FOLDER
on_job_end_timeout = 60               # seconds before the command is stopped (its failure is a warning, never fatal)

[ui]
notify = "bell"                       # when a job fails or the queue ends: "bell", "desktop" (OSC 9/777) or "none"

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
strategy = "default"          # "mirrored": one job over every GPU it sees, batch_size split among them
repeats = 1                   # seeds per job on one feature pass: their spread shows training variance
augment_views = 2             # with an [augment] table: augmented copies of each training image cached (the
                              # frozen layers run once per copy); 0: fresh augmentation every epoch, through
                              # the whole model every epoch (no cache; see the README for the trade-off)
precision = "float32"         # or "mixed_bfloat16" / "mixed_float16" (GPUs); last layer and loss stay float32
jit_compile = "auto"          # XLA: "auto" on GPUs only (slower on CPU, see benchmarks/README.md); true | false

# Augmentation (off unless this table exists); training images only, seeded. Each key's 0 leaves it out.
# [presets.standard.augment]
# rotation = 10               # degrees, ±
# shift = 0.05                # fraction of the side, ±
# zoom = 0.1                  # fraction, ±
# brightness = 0.1            # fraction of the 0-255 range, ±
# contrast = 0.1              # contrast scaled by 1 ± this
# flip = false                # horizontal flip: off because a chest film has a side

[presets.intensive]
epochs = 15
patience = 7

[evaluation]
threshold = "youden"          # chosen on the validation split; or "sensitivity" with target_sensitivity
target_sensitivity = 0.9
interval = "analytic"         # Wilson (cluster-corrected), DeLong; or "bootstrap" (over patients, floored at Wilson)
bootstrap = 1000              # resamples for interval = "bootstrap" and the ROC band (patients when ids exist)
confidence = 0.95

# Each dataset names a `recipe` that knows the public dataset's layout as downloaded:
#   folder            one sub-folder per class, optionally inside train/ val/ test/ (needs `positive`)
#   csv               a table: `table`, `path_column`, `label_column`, optional `patient_column`, `split_column`
#   kermany, nih-cardiomegaly, mura, knee-kl, osteoporosis: see the comments below
#   chexpert          CheXpert-v1.0-small/ (or CheXpert-v1.0/): train.csv, valid.csv (the test split)
#   mimic-cxr-jpg     files/pXX/pSUBJECT/sSTUDY/*.jpg with mimic-cxr-2.0.0-{chexpert,split,metadata}.csv.gz
#                     both: positive = ["Cardiomegaly"] (finding columns), optional negative = ["No Finding"],
#                     uncertain = "ignore" | "ones" | "zeros" (what a -1 label becomes; "ignore" leaves it out),
#                     views = ["frontal"] | ["lateral"] | "all"; mimic-cxr-jpg also labeler = "chexpert" | "negbio"
#   rsna-pneumonia    stage_2_train_labels.csv + stage_2_train_images/*.dcm; Target 1 is positive, boxes kept
# An official test split is kept as is; missing splits are carved from train, grouped by patient.
# `positive` classes are label 1; `negative` (default: every other class) label 0.
# A patient or an identical image on both sides of a split stops the job; `leaks = "drop"` drops it
# from train/val instead (test never changes). Check a dataset first:  medcam-tui data check
# `external = ["rsna"]` validates every model of this dataset on those datasets after training (at its own
# validation threshold, into results/external/<name>/); `train = false` keeps a dataset for that use only.
# Lesion annotations for Grad-CAM's localisation figures (folder, csv): boxes = "boxes.csv" (path, x, y,
# width, height in the original's pixels) or masks = "masks" (a mask .png per image at its relative path).

[[datasets]]
name = "pneumonia"            # Kermany: chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}; its 16-image val/ joins train
path = "data/chest_xray"
recipe = "kermany"            # positive PNEUMONIA, negative NORMAL, patients from file names (personN, IM-xxxx)
max_per_class = 500           # per class and split; a seeded random subset when there are more

[[datasets]]
name = "cardiomegaly"         # NIH ChestX-ray14: Data_Entry_2017.csv, images_001/images/ ... images_012/images/
path = "data/nih-chestxray14"
recipe = "nih-cardiomegaly"   # train_val_list.txt / test_list.txt give the official patient-disjoint split
positive = ["Cardiomegaly"]   # findings; a row is positive when any is present
negative = ["No Finding"]     # leave out to use every image without a positive finding
max_per_class = 500

[[datasets]]
name = "osteoporosis"         # knee X-rays: normal/ osteopenia/ osteoporosis/ (names match in any case)
path = "data/knee_osteoporosis"
recipe = "osteoporosis"
positive = ["osteoporosis"]
negative = ["normal"]         # osteopenia is left out; add it to one list to use it
max_per_class = 500

[[datasets]]
name = "osteoarthritis"       # knee KL grades: {train,val,test,auto_test}/{0,1,2,3,4}; auto_test/ is never used
path = "data/knee_kl"
recipe = "knee-kl"            # positive = KL >= 2; set positive = ["3", "4"] for KL >= 3
max_per_class = 500

[[datasets]]
name = "limbabnormalities"    # MURA-v1.1 with its CSVs; valid/ is the test split
path = "data/MURA-v1.1"
recipe = "mura"
body_parts = ["forearm", "humerus"]
max_per_class = 500
"""
