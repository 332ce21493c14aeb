from crawler.cli import main


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: crawler" in capsys.readouterr().err
