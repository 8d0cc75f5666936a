"""The customer domain, pure and shared: the fold (ingest applies it; the import's dry run asks
it what a row would change), merging two cards, routing an event to a card, the stored row."""
