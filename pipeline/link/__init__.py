"""Linkage: records to people, people to households, each keyed so no name is needed to follow them.

In the order the data goes: `standardise` (names, dates, postcodes, addresses in one comparable
shape), `candidates` (blocking passes: which records are compared at all), `compare` (features of
each pair), `model` (Fellegi-Sunter weights trained on agencies' own tokens), `cluster` (links
joined without chaining two people), `identity` (what agency tokens say), `people` (all of that,
with each pair's `decisions`), `addresses` and `households` (one address per person at the as-of
date), `tables` (what is published), `stage` (the stage as one call). `settings` reads
`schemas/linkage.yaml`.
"""
