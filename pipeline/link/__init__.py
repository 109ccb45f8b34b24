"""Record linkage: candidate pairs, comparison, Fellegi-Sunter model, clustering (issue 3)."""
