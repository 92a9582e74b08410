"""kfp-mlops components: one subpackage per component.

Each ``kfp_mlops.components.<name>`` holds ``core.py`` (the work, no kfp import) and
``component.py`` (the thin KFP shell). Importing any of them needs only kfp.
"""
