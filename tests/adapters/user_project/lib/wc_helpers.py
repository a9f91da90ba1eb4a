"""A helper module the pipeline module imports: it must reach the workers too."""


def weight(word):
    return len(word) * 10
