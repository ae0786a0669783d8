"""Evaluation: queries + qrels → runs → metrics (trec_eval meanings) → reports."""
