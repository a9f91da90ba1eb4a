"""The smallest SAGE pipeline: upper-case, filter, print."""

from sage_core import LocalEnvironment, MapFunction


class Upper(MapFunction):
    def execute(self, data):
        return data.upper()


if __name__ == "__main__":
    env = LocalEnvironment("hello")
    env.from_batch(["a", "b", "c"]).map(Upper).filter(lambda s: s != "B").sink(print)
    env.submit(autostop=True)
