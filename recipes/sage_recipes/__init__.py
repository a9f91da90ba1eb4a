"""sage_recipes: LLM operators and ready pipelines."""
