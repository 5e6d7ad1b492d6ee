"""Grad-CAM: the CAM itself (`cam`), maps of images (`maps`), their pictures (`render`), localisation
figures against lesion masks passed in (`localisation`), and a job's examples (`picking`)."""
