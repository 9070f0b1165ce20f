"""The LMM side of the flywheel's generators: prompt templates for the proposer, solver, judge, repairer and
extractor (`prompts.py`, files in `generators/prompts/`), and robust reading of what the models write back
(`parse.py` for proposals, `review.py` for judge/extractor/solver outputs, `jsonish.py` and `clean.py` below
them). Pure functions over text and records: no model, sandbox or Ray in here.
"""
