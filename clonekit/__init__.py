"""clonekit: turn a person's chat history into a local chatbot that writes like them.

The package `clonekit` is the thin shared core (schema, config, errors, paths) and the CLI.
The stages live beside it: data_prep/, train/, serve/, bot/, compare/.
"""

__version__ = "0.1.0"
