"""The links file: your own links, every problem at once with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.loader.links import LinksFileError, load_links


def write(tmp_path: Path, text: str, name: str = "links.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_becomes_links_and_a_populate_body(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
proxy: http://127.0.0.1:18474/
links:
  - name: shop
    listen: 127.0.0.1:18080
    upstream: 127.0.0.1:8080
  - name: echo
    listen: 18053
    upstream: 127.0.0.1:8053
    protocol: udp
""",
    )
    loaded = load_links(path)
    assert loaded.proxy == "http://127.0.0.1:18474"
    assert [(link.name, link.protocol, link.listen) for link in loaded.links] == [
        ("shop", "tcp", "127.0.0.1:18080"),
        ("echo", "udp", ":18053"),
    ]
    assert loaded.to_populate() == [
        {
            "name": "shop",
            "listen": "127.0.0.1:18080",
            "upstream": "127.0.0.1:8080",
            "enabled": True,
        },
        {
            "name": "echo",
            "listen": ":18053",
            "upstream": "127.0.0.1:8053",
            "enabled": True,
            "protocol": "udp",
        },
    ]


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
proxy: ftp://somewhere
links:
  - name: web/1
    listen: 127.0.0.1:18080
    upstream: 127.0.0.1
  - name: echo
    listen: 127.0.0.1:18081
    upstream: 127.0.0.1:0
    protocol: sctp
  - name: echo
    listen: 127.0.0.1:18081
    upstream: 127.0.0.1:9
    lisen: 1
""",
    )
    with pytest.raises(LinksFileError) as caught:
        load_links(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[0].rsplit(":", 1)[1] for line in lines] == [
        "1", "3", "5", "8", "9", "13",
    ]  # fmt: skip
    text = str(caught.value)
    assert 'proxy: "ftp://somewhere" is not a proxy API URL' in text
    assert 'links[0].name: "web/1"' in text
    assert "links[0].upstream: address 127.0.0.1: missing port" in text
    assert 'links[1].upstream: "127.0.0.1:0": port 0 names no service' in text
    assert 'links[1].protocol: "sctp" is not a protocol; expected tcp | udp' in text
    assert "links[2].lisen: unknown field 'lisen'; did you mean 'listen'?" in text


def test_names_are_unique_and_an_address_serves_one_link_per_protocol(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
links:
  - {name: a, listen: "127.0.0.1:18080", upstream: "127.0.0.1:1"}
  - {name: b, listen: "127.0.0.1:18080", upstream: "127.0.0.1:2", protocol: udp}
  - {name: c, listen: "localhost:18080", upstream: "127.0.0.1:3"}
  - {name: d, listen: "127.0.0.1:0", upstream: "127.0.0.1:4"}
  - {name: e, listen: "127.0.0.1:0", upstream: "127.0.0.1:5"}
  - {name: a, listen: "127.0.0.1:18081", upstream: "127.0.0.1:6"}
""",
    )
    with pytest.raises(LinksFileError) as caught:
        load_links(path)
    assert [line.split("links.yaml:")[1] for line in str(caught.value).splitlines()] == [
        "4: links[2].listen: localhost:18080 (tcp) is used twice",
        '7: links[5].name: "a" is named twice',
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "links.yaml:1: document: the file is empty; it needs links"),
        ("links: []\n", "links.yaml:1: links: is empty; at least one is needed"),
        ("proxy: http://127.0.0.1:1\n", "links.yaml:1: links: missing (required)"),
        ("links: [\n", "links.yaml:2: syntax:"),
        ("- name: a\n", "links.yaml:1: document: expected a mapping of fields (links)"),
    ],
)
def test_a_broken_document_says_what_is_missing(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LinksFileError) as caught:
        load_links(write(tmp_path, text))
    assert str(caught.value).replace(str(tmp_path) + "/", "").startswith(message), caught.value


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(LinksFileError, match=r"missing\.yaml: file: cannot read: No such file"):
        load_links(tmp_path / "missing.yaml")
    raw = tmp_path / "binary.yaml"
    raw.write_bytes(b"links: \xff\n")
    with pytest.raises(LinksFileError, match=r"not UTF-8 text \(byte offset 7\)"):
        load_links(raw)


def test_the_example_links_file_loads() -> None:
    example = Path(__file__).parents[2] / "examples" / "links.yaml"
    loaded = load_links(example)
    assert loaded.proxy == "http://127.0.0.1:18474"
    assert {link.name: link.protocol for link in loaded.links} == {
        "shop": "tcp",
        "quotes": "udp",
    }
