from collections import OrderedDict

from madina.domains.memory import recently_used


def test_the_least_recently_used_goes_past_capacity() -> None:
    items: OrderedDict[str, list[str]] = OrderedDict()
    made: list[str] = []

    def get(key: str) -> list[str]:
        return recently_used(items, key, lambda: made.append(key) or [key], capacity=2)

    a = get("a")
    get("b")
    assert get("a") is a  # kept, and now the most recent
    get("c")  # over capacity: "b" was used least recently
    assert list(items) == ["a", "c"]
    get("b")
    assert list(items) == ["c", "b"] and made == ["a", "b", "c", "b"]
