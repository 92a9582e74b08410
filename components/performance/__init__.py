"""Performance: a batch's predictions scored against the labels that arrived later."""
