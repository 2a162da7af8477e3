"""Streamlit entry point of 渠道参谋: page config and navigation, nothing else."""

from advisor.runtime import pin_threads

pin_threads()

import streamlit as st  # noqa: E402

st.set_page_config(page_title="渠道参谋", page_icon=":material/explore:", layout="wide")
st.navigation(
    [
        st.Page("ui/pages/chat.py", title="对话", icon=":material/chat:", url_path="chat", default=True),
        st.Page("ui/pages/plans.py", title="方案", icon=":material/description:", url_path="plans"),
        st.Page("ui/pages/data_center.py", title="数据中心", icon=":material/database:", url_path="data"),
        st.Page("ui/pages/knowledge.py", title="知识库", icon=":material/menu_book:", url_path="knowledge"),
    ]
).run()
