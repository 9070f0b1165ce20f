"""Talking to models in text, shared by generators/ and verifiers/ (layer L1): prompt templates and their
filling (`prompts.py`, files in `templates/`), the requests built from them (`calls.py`), and robust reading of
what models write back (`parse.py` for proposals, `review.py` for judge/extractor/solver outputs, `jsonish.py`
and `clean.py` below them). Pure functions over text and records: no model, sandbox or Ray in here.
"""
