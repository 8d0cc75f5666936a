-- 0014: the cards staff kept apart (dismissed pairs, undone merges), looked up for every card
-- a batch of ingest holds (services/common/cards.py, holders). Dismissed pairs are few: a partial
-- index per side keeps each lookup to a probe of a small index, where the planner otherwise
-- scanned the whole table once per card while it was small (bench/ANALYSIS.md, issue 16).
CREATE INDEX duplicate_pairs_apart_first ON duplicate_pairs (tenant_id, first_id)
    WHERE dismissed_at IS NOT NULL;
CREATE INDEX duplicate_pairs_apart_second ON duplicate_pairs (tenant_id, second_id)
    WHERE dismissed_at IS NOT NULL;
