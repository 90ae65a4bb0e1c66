// Renders an Ollama TEMPLATE the way Ollama's template.Execute does for a template that uses .Messages
// (ollama/template/template.go): Go's text/template with missingkey=zero, system messages collected into .System,
// consecutive messages of one role merged with a blank line between them, except tool messages.
// Input on stdin: {"template": "...", "messages": [{"role": ..., "content": ..., "tool_name": ...}]}.
package main

import (
	"encoding/json"
	"os"
	"strings"
	"text/template"
)

type Message struct {
	Role     string `json:"role"`
	Content  string `json:"content"`
	ToolName string `json:"tool_name"`
}

type Input struct {
	Template string    `json:"template"`
	Messages []Message `json:"messages"`
}

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	var system []string
	var collated []*Message
	for i := range in.Messages {
		m := &in.Messages[i]
		if m.Role == "system" {
			system = append(system, m.Content)
		}
		if n := len(collated); n > 0 && collated[n-1].Role == m.Role && m.Role != "tool" {
			collated[n-1].Content += "\n\n" + m.Content
		} else {
			collated = append(collated, m)
		}
	}
	tmpl := template.Must(template.New("").Option("missingkey=zero").Parse(in.Template))
	data := map[string]any{"System": strings.Join(system, "\n\n"), "Messages": collated, "Response": ""}
	if err := tmpl.Execute(os.Stdout, data); err != nil {
		panic(err)
	}
}
