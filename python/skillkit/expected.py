"""What a family's reference expects of the handler for one case."""


class Expected(dict):
    """The handler outputs a reference expects, as keys, and what only the comparison
    needs (greedy's margins), as attributes.

    Every key is an output the skillset must return: the keys become the signature in
    the requirements. Anything else the reference knows stays out of them by being an
    attribute.
    """

    def __init__(self, outputs=()):
        super().__init__(outputs)
        self.margins = []  # greedy generation: per input, per step, greedy.margin()
