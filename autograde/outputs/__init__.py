"""What grading produces: results, score table, feedback pages, class report, exports, similarity."""
