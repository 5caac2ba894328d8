"""Make real PDF, DOCX and HTML documents at test time, plus fictional sample content to fill them.

The makers write genuine files (a PDF printed by headless Chromium, a DOCX saved by python-docx, a news-style
HTML page) so loaders and cleaners are tested against what they meet in the wild, not against hand-made stubs.

The sample content describes FICTIONAL documents (星河市, 月亮湾产业园, 白鹭湖湿地公园) whose facts do not occur
in the real corpus article about zero-carbon parks, so a question about them can only be answered from the made
document.  Every gold answer occurs verbatim, exactly once, in its document.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pypdf import PdfReader

#: Longest page text (in characters) that ``make_pdf`` promises to fit on one printed A4 page.
MAX_PAGE_CHARS = 600

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CHROMIUM_TIMEOUT_S = 60

_PDF_CSS = """
@page { size: A4; margin: 18mm 20mm; }
html, body { margin: 0; padding: 0; }
body { font-family: 'Noto Sans CJK SC', 'Noto Sans CJK', sans-serif; font-size: 12pt; line-height: 1.6; }
.page { height: 250mm; display: flex; flex-direction: column; page-break-after: always; break-after: page; }
.page:last-child { page-break-after: auto; break-after: auto; }
.header { font-size: 9pt; color: #555; border-bottom: 1px solid #999; margin: 0 0 6mm 0; padding-bottom: 1mm; }
.body { flex: 1 1 auto; }
.body p { margin: 0 0 3mm 0; text-indent: 2em; }
.footer { font-size: 9pt; color: #555; text-align: center; margin-top: auto; }
"""


def chromium_path() -> str | None:
    """Return the path of a Chromium or Chrome executable on PATH, or None when there is none."""
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _paragraphs_html(text: str) -> str:
    """Turn a page text into <p> elements: paragraphs are separated by a blank line ("\\n\\n")."""
    paras = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n".join(f"<p>{html.escape(p)}</p>" for p in paras)


def _pdf_html(pages: Sequence[str], header: str | None, footer_numbers: bool) -> str:
    """The HTML that ``make_pdf`` prints: one fixed-height block per page."""
    blocks = []
    for number, text in enumerate(pages, start=1):
        parts = ['<div class="page">']
        if header is not None:
            parts.append(f'<div class="header">{html.escape(header)}</div>')
        parts.append(f'<div class="body">\n{_paragraphs_html(text)}\n</div>')
        if footer_numbers:
            parts.append(f'<div class="footer">第 {number} 页</div>')
        parts.append("</div>")
        blocks.append("\n".join(parts))
    body = "\n".join(blocks)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>document</title>\n<style>{_PDF_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def make_pdf(path: Path, pages: Sequence[str], header: str | None = None, footer_numbers: bool = False) -> Path:
    """Print ``pages`` to a PDF at ``path`` with headless Chromium, one given page per printed A4 page.

    Each element of ``pages`` is the text of one page; paragraphs within it are separated by "\\n\\n".
    Contract: a page text of at most ``MAX_PAGE_CHARS`` (600) characters fits on one printed page; longer
    texts may spill over, and then a RuntimeError is raised because the page count is wrong.
    ``header`` repeats a small header line at the top of every page; ``footer_numbers`` ends every page
    with "第 N 页" at its bottom.  Both are the boilerplate a PDF cleaner should remove.
    Raises RuntimeError when Chromium is missing, fails, or the PDF has the wrong number of pages.
    """
    if not pages:
        raise ValueError("make_pdf needs at least one page")
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("make_pdf needs Chromium: none of " + ", ".join(_CHROMIUM_NAMES) + " is on PATH")
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="docmaker-") as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "doc.html"
        src.write_text(_pdf_html(pages, header, footer_numbers), encoding="utf-8")
        out = tmpdir / "doc.pdf"
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={tmpdir / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, cwd=tmpdir, capture_output=True, text=True, timeout=_CHROMIUM_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"Chromium ({exe}) did not print the PDF within {_CHROMIUM_TIMEOUT_S} s") from exc
        if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            raise RuntimeError(
                f"Chromium ({exe}) failed to print the PDF (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        shutil.move(str(out), path)
    n = len(PdfReader(path).pages)
    if n != len(pages):
        path.unlink()
        raise RuntimeError(
            f"{path} has {n} pages, expected {len(pages)}: keep each page text within {MAX_PAGE_CHARS} characters"
        )
    return path


def make_docx(
    path: Path, paragraphs: Sequence[str], table: Sequence[Sequence[str]] = (), heading: str | None = None
) -> Path:
    """Write a DOCX at ``path``: an optional heading, the paragraphs, then ``table`` (first row = header row)."""
    from docx import Document

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = Document()
    if heading is not None:
        doc.add_heading(heading, level=1)
    for para in paragraphs:
        doc.add_paragraph(para)
    if table:
        ncols = max(len(row) for row in table)
        grid = doc.add_table(rows=len(table), cols=ncols)
        grid.style = "Table Grid"
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                cell = grid.cell(r, c)
                cell.text = value
                if r == 0:
                    for run in cell.paragraphs[0].runs:
                        run.bold = True
    doc.save(str(path))
    return path


def make_html(path: Path, title: str, paragraphs: Sequence[str]) -> Path:
    """Write a realistic news web page at ``path``: nav, header, the article, an aside and a footer.

    Only ``<article>`` holds the content (``<h1>`` title and ``<p>`` paragraphs); the rest is boilerplate
    (script, style, menu, related links, copyright) that an HTML extractor should drop.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = html.escape(title)
    body = "\n".join(f"      <p>{html.escape(p)}</p>" for p in paragraphs)
    page = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{t} - 某某网站</title>
  <style>
    body {{ font-family: 'Noto Sans CJK SC', sans-serif; margin: 0; }}
    nav ul {{ list-style: none; display: flex; gap: 1em; }}
    article p {{ line-height: 1.8; text-indent: 2em; }}
    aside {{ float: right; width: 30%; }}
  </style>
  <script>
    window.dataLayer = window.dataLayer || [];
    function track(ev) {{ window.dataLayer.push({{event: ev, time: Date.now()}}); }}
    track('pageview');
  </script>
</head>
<body>
  <nav class="site-nav">
    <ul>
      <li><a href="/">首页</a></li>
      <li><a href="/news/">新闻</a></li>
      <li><a href="/local/">本地</a></li>
      <li><a href="/video/">视频</a></li>
      <li><a href="/about/">关于我们</a></li>
      <li><a href="/contact/">联系我们</a></li>
    </ul>
  </nav>
  <header class="site-header">
    <div class="logo">某某网站</div>
    <form class="search" action="/search"><input name="q" placeholder="搜索"><button>搜索</button></form>
  </header>
  <main>
    <article>
      <h1>{t}</h1>
      <div class="meta">来源:某某网站 编辑:王编辑</div>
{body}
    </article>
    <aside class="related">
      <h2>相关阅读</h2>
      <ul>
        <li><a href="/news/1001.html">本市发布夏季用电安全提示</a></li>
        <li><a href="/news/1002.html">周末天气:多云转晴 气温回升</a></li>
        <li><a href="/news/1003.html">图集:城市夜景灯光秀上演</a></li>
      </ul>
    </aside>
  </main>
  <footer class="site-footer">
    <p>版权所有 ©2025 某某网站 保留所有权利</p>
    <p>备案号:某ICP备12345678号-1 | <a href="/about/">关于我们</a> | <a href="/contact/">联系我们</a></p>
  </footer>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------------
# Sample content: a fictional 3-page policy PDF.

GUIDE_TITLE = "星河市零碳工厂建设指导意见"
GUIDE_HEADER = "星河市工业和信息化局文件 星工信发〔2025〕37号"

GUIDE_PAGES: tuple[str, str, str] = (
    "《星河市零碳工厂建设指导意见》\n\n"
    "一、总体要求。为推动本市制造业绿色低碳转型,星河市工业和信息化局会同市生态环境局,"
    "于2025年9月18日联合印发本指导意见。本意见适用于星河市行政区域内年综合能耗在3000吨标准煤以上的工业企业,"
    "其他企业可以参照执行。各区县工业主管部门应当在本意见印发后三个月内制定具体实施方案,并报市工业和信息化局备案。\n\n"
    "二、主要目标。到2028年底,全市累计建成零碳工厂45家,其中示范性零碳工厂不少于12家,"
    "覆盖新能源汽车零部件、光学仪器、食品加工和纺织印染四个重点行业。"
    "同期,规模以上工业企业单位增加值能耗比2024年下降百分之十八,工业领域清洁能源消费比重明显提高。"
    "市工业和信息化局每年第一季度向社会公布上一年度的目标完成情况。",
    "三、重点任务。一是扩大绿色电力使用。新建和改建厂房应当同步建设屋顶分布式光伏,"
    "具备条件的企业屋顶光伏覆盖率应当达到60%以上;新增光伏项目按照装机容量的百分之十五配置储能设施,"
    "储能时长不少于两小时。二是推进用能设备更新,重点淘汰低效电机、锅炉和空压机,鼓励企业采用余热余压利用技术。\n\n"
    "三是建立碳排放核算制度。申报零碳工厂的企业应当按照本市统一的核算指南编制年度碳排放报告,"
    "由星河市碳计量中心负责现场核查并出具核查结论。四是开展试点示范。"
    "首批试点安排在青石岭经济开发区和白沙湾新区,两地应当于2026年6月底前各推出至少三家样板企业,"
    "形成可以复制推广的建设经验。各区县每半年至少组织一次企业能源管理人员培训,提升企业自主核算能力。",
    "四、保障措施。一是加大资金支持。市财政每年安排零碳工厂建设专项资金8000万元,"
    "采取先建后补的方式,支持企业开展节能改造、绿电替代和数字化能源管理。"
    "对经认定的零碳工厂,给予一次性奖励200万元;对示范性零碳工厂,另外在绿色信贷贴息上予以倾斜。\n\n"
    "二是强化动态管理。零碳工厂称号有效期为三年,期满前六个月企业应当提出复核申请,"
    "复核不合格的撤销称号并追回部分奖励资金。三是加强组织协调。"
    "市里成立由分管副市长任组长的零碳工厂建设工作专班,专班办公室设在市工业和信息化局节能与综合利用处,"
    "负责日常协调和督促检查。各区县可以结合本地实际,在市级奖励之外另行出台配套支持政策。本意见自2025年11月1日起施行。",
)

#: (question, short gold answer as it appears in the page text, 1-based page); two per page.
#: The 4th and 6th questions are written in traditional Chinese.
GUIDE_QUESTIONS: tuple[tuple[str, str, int], ...] = (
    ("星河市的零碳工厂指导意见是哪一天发布的?", "2025年9月18日", 1),
    ("按照星河市的规划,2028年底前一共要建成多少家零碳工厂?", "45家", 1),
    ("星河市要求有条件的企业厂房顶上装光伏,比例至少要多少?", "60%", 2),
    ("在星河市,申報零碳工廠的企業由哪個機構上門核查碳排放?", "星河市碳计量中心", 2),
    ("星河市财政每年拿出多少钱专门支持零碳工厂建设?", "8000万元", 3),
    ("企業被認定為星河市零碳工廠後,可以一次性拿到多少獎勵?", "200万元", 3),
)

# --------------------------------------------------------------------------------------------------------------
# Sample content: a fictional DOCX energy report with a table.

REPORT_TITLE = "月亮湾产业园2025年度能源报告"

REPORT_PARAGRAPHS: tuple[str, ...] = (
    "月亮湾产业园位于东海县南部沿海,规划面积18.6平方公里,目前入驻企业137家,"
    "主导产业为海洋装备制造和生物医药。本报告由月亮湾产业园管理委员会能源办公室编制,统计期为2025年全年。",
    "2025年6月,园区与蓝潮能源公司合作建设的海上风电直连线路正式投入运行,"
    "月亮湾产业园由此成为东海县第一个实现风电直接供应的产业园区。",
    "园区余热回收站于2025年3月建成使用,回收船舶焊接车间和制药车间排放的工业余热,在冬季为周边两个居民小区提供集中供暖。",
    "下一步,园区计划在2026年建成一座服务氢能重型卡车的加氢站,并要求全部入驻企业完成能源审计。",
)

REPORT_TABLE: tuple[tuple[str, ...], ...] = (
    ("指标", "2024年", "2025年"),
    ("总用电量", "4.2亿千瓦时", "4.6亿千瓦时"),
    ("绿电占比", "23%", "38%"),
    ("单位产值能耗", "0.41吨标准煤/万元", "0.35吨标准煤/万元"),
    ("二氧化碳排放量", "31.5万吨", "27.8万吨"),
)

#: (question, short gold answer); the last three are answered only from the table, the 2nd and 5th are traditional.
REPORT_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("月亮湾产业园里现在有多少家企业?", "137家"),
    ("月亮灣產業園的海上風電直連線路是和哪家公司一起建的?", "蓝潮能源公司"),
    ("2025年月亮湾产业园用的电里绿电占多少?", "38%"),
    ("月亮湾产业园2024年排放了多少二氧化碳?", "31.5万吨"),
    ("月亮灣產業園2025年一共用了多少電?", "4.6亿千瓦时"),
)

# --------------------------------------------------------------------------------------------------------------
# Sample content: a fictional news web page.

NEWS_TITLE = "白鹭湖湿地公园观鸟栈道十月中旬开放"

NEWS_PARAGRAPHS: tuple[str, ...] = (
    "记者从白鹭湖湿地公园管理处获悉,公园东岸新建的观鸟栈道全长2.4公里,将于2025年10月15日起免费向市民开放。"
    "栈道采用架空设计,最低处距离水面约一米,不会影响湿地植物的生长。",
    "栈道沿线设置了七座观鸟亭和一座湿地科普馆,科普馆内展出了公园历年记录到的216种鸟类的标本和照片,"
    "其中包括东方白鹳和黑脸琵鹭等珍稀物种。",
    "管理处提醒,为保护越冬候鸟,每年十二月至次年二月,栈道北段每天下午四点以后关闭,请游客合理安排行程。",
)

#: (question, short gold answer).
NEWS_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("白鹭湖新修的观鸟栈道有多长?", "2.4公里"),
    ("湿地科普馆里能看到多少种鸟?", "216种"),
)

# --------------------------------------------------------------------------------------------------------------
# Sample content: a long fictional technical manual for timing tests.

_MANUAL_PARTS = ("直流侧接线端子", "交流输出滤波器", "散热风扇组", "绝缘监测模块", "电池管理接口", "控制主板")
_MANUAL_TOOLS = ("扭力扳手", "红外测温仪", "绝缘电阻表", "万用表", "示波器", "钳形电流表")
_MANUAL_FAULTS = ("过温告警", "直流过压", "接地故障", "通信中断", "风扇堵转", "交流欠压")


def long_pages(n: int = 20) -> list[str]:
    """Return ``n`` page texts (~500 characters each) of a fictional converter maintenance manual.

    Every page is a numbered section with its own part, tool, fault and numbers, so chunks are not identical.
    Each page stays under ``MAX_PAGE_CHARS`` so ``make_pdf`` prints it on one page.
    """
    pages = []
    for i in range(n):
        k = i + 1
        part = _MANUAL_PARTS[i % len(_MANUAL_PARTS)]
        tool = _MANUAL_TOOLS[(i * 5 + 1) % len(_MANUAL_TOOLS)]
        fault = _MANUAL_FAULTS[(i * 7 + 2) % len(_MANUAL_FAULTS)]
        torque = 8 + (i * 3) % 17
        temp = 55 + (i * 4) % 30
        interval = 3 + i % 10
        volts = 500 + 25 * (i % 13)
        minutes = 10 + (i * 7) % 25
        code = f"E{100 + i * 13:03d}"
        pages.append(
            f"第{k}节 {part}的检查与维护\n\n"
            f"{k}.1 适用范围。本节适用于XH-200型储能变流器的{part},建议每{interval}个月检查一次,"
            f"在沿海高湿地区应当把周期缩短一半。检查前必须断开交流和直流两侧电源,并等待不少于{minutes}分钟,"
            f"确认母线电压已经降到36伏以下后方可打开柜门。操作人员应当佩戴绝缘手套和护目镜,并在柜门上悬挂警示牌。\n\n"
            f"{k}.2 检查步骤。先用{tool}测量{part}的状态并做好记录,紧固螺栓时的扭矩应当保持在{torque}牛·米,"
            f"不得超过规定值的百分之十。运行时{part}附近的表面温度不应高于{temp}摄氏度;"
            f"如果连续两次测量都超过该值,应当检查柜内风道是否被灰尘堵塞。"
            f"绝缘测试采用{volts}伏档位,测得的绝缘电阻低于规定值时不得重新投入运行。"
            f"更换下来的旧{part}应当贴上标签,注明拆卸日期后退回仓库统一处理。\n\n"
            f"{k}.3 故障处理。当显示屏出现故障代码{code}并提示{fault}时,应当先查看最近二十四小时的运行日志,"
            f"再按照本手册附录中的流程逐项排查。处理完成后,由值班负责人在维护记录表第{k}栏签字确认,"
            f"并在系统中清除告警信息,观察设备连续运行{minutes + 20}分钟无异常后方可离开现场。"
            "本节所列数值均以出厂铭牌和随机文件为准,两者不一致时以随机文件为准。",
        )
    return pages
