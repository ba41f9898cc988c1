"""What a registered version was made from, rebuilt and checked: `reconstruct` fetches every
object DataPull read (by its recorded S3 version id), verifies size and sha256, and runs DataPull's
own code on them to rebuild the train/validation/test splits, proving them equal to the ones
recorded at training time (training_containers.manifest, format 2).

Modules: `objects` (reading an object version, locally or on S3), `reconstruct`, `cli`.
"""
