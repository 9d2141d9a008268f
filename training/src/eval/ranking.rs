//! Ranking metrics for recommendations: precision, recall, NDCG and hit rate at k, catalog coverage.
