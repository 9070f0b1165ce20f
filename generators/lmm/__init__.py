"""The model-driven generators: the proposer (`propose.py`: plan concept combinations, ask, parse), the
repairer (`repair.py`) and the concept extractor (`extract.py`). Prompts and reply parsing live one layer down
in `flywheel/lmm/`, shared with the verifiers (judge, cross-model solver).
"""
