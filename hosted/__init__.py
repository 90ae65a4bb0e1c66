"""The hosted side of "hosted vs local": the same clone fine-tuned on OpenAI from the same dataset. The dataset's
OpenAI files checked against OpenAI's rules and the model's limits (validate.py, tiktoken counts: tokens.py), the
tokens and the cost estimated (plan.py), the job run and watched through the official client (jobs.py), and an
endpoint file written for compare, chat and discord (endpoint.py)."""
