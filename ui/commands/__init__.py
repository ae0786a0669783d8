"""The ``qbank`` commands, one module per family; :data:`FAMILIES` is the one list the parser
registers them from, in the order ``qbank --help`` shows them."""

from qbank.ui.commands import apps, corpus, evaluate, search, studyset, train

FAMILIES = (corpus, search, studyset, evaluate, train, apps)
